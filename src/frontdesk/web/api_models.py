"""Response shapes of the JSON API (Cobot API 1), for the OpenAPI description."""

from __future__ import annotations

from datetime import date, datetime

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
    picture: str = Field(
        description="URL of the person's picture: the one the platform set, else a generated avatar"
    )
    memberships: list[MembershipRef]
    admin_of: list[AdminOf]


class SpaceOut(BaseModel):
    id: str
    subdomain: str
    name: str
    url: str
    custom_domain: str | None = None


class MembershipUser(BaseModel):
    id: str
    email: str


class MembershipAddress(BaseModel):
    name: str = Field(description="The member's name")


class MembershipOut(BaseModel):
    id: str
    user_id: str
    name: str
    email: str
    role: str = Field(description="member or admin")
    link: str
    user: MembershipUser
    address: MembershipAddress
    picture: str = Field(description="URL of the member's picture (see /api/user)")
    confirmed_at: datetime | None = Field(
        description="When the membership took effect (RFC 3339); null while it waits for confirmation"
    )
    canceled_to: date | None = Field(description="The membership's last day once canceled (YYYY-MM-DD)")


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


class NavigationLinkIn(BaseModel):
    section: str = Field(description="members, admin, admin/setup, admin/manage or admin/analyze")
    label: str
    iframe_url: str
    user_editable: bool = True


class NavigationLinkOut(NavigationLinkIn):
    id: str
    url: str = Field(description="API URL of the link (DELETE it to remove the link)")
    user_url: str = Field(description="The page in the space that shows the app")
