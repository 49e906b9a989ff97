"""Response shapes of the JSON API (Cobot API 1), for the OpenAPI description."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MembershipRef(BaseModel):
    id: str
    space_subdomain: str
    space_name: str
    space_link: str = Field(description="API URL of the space")
    link: str = Field(description="API URL of this membership")


class AdminOf(BaseModel):
    space_subdomain: str
    space_name: str
    space_link: str
    name: str = Field(description="The user's name as an admin of this space")


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    memberships: list[MembershipRef]
    admin_of: list[AdminOf]


class SpaceOut(BaseModel):
    id: str
    subdomain: str
    name: str
    url: str
    custom_domain: str | None = None


class MembershipOut(BaseModel):
    id: str
    user_id: str
    name: str
    email: str
    role: str = Field(description="member or admin")
    link: str


class TokenScopeOut(BaseModel):
    scope: list[str]


class SpaceTokenOut(BaseModel):
    scope: list[str]
    token: str
    client_id: str
    space_id: str
    space_subdomain: str


class ErrorOut(BaseModel):
    error: str
    error_description: str | None = None
