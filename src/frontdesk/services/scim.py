"""SCIM 2.0 (RFC 7643, RFC 7644) over Frontdesk's accounts and spaces (docs/integrating.md,
"SCIM 2.0"): the :class:`~scim2_server.storage.AsyncScimStorage` that scim2-server's handler
reads and writes, and the description of the service it serves (:func:`provider`).

scim2-server does the protocol (routing, validation, PATCH, filters' grammar, ETags, the
error bodies); this module maps its resources onto the services the admin API uses, so the
same audit events and webhooks follow a SCIM change:

* a **User** is an account: ``userName`` (the account's email unless the identity provider
  gave another login name), ``emails`` (the primary one, else the first, is the account's
  email), ``displayName`` (the account's name), ``name``, ``active`` (``false`` disables the
  account as ``services/admin.set_disabled`` does: sessions end, grants are revoked),
  ``password`` (write-only, checked like the admin API's), ``externalId``;
* a **Group** is a space: ``displayName`` is its name, ``members`` its memberships (``value``
  is the user id) except its owner's, which comes with ownership and is not SCIM's to manage.

What an account does not hold itself (``externalId``, a ``userName`` other than the email, the
``name`` parts and the ``emails`` list as written) is kept in ``scim_users``; a space's
``externalId`` in ``scim_groups`` (migration 0011). Nothing here commits.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ConflictException,
    ETag,
    Filter,
    InvalidValueException,
    NotFoundException,
    Patch,
    PreconditionFailedException,
    Required,
    Resource,
    ResourceType,
    ResponseParameters,
    Schema,
    ScimFilter,
    ScimPolicy,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    UniquenessException,
)
from scim2_models.path import CompareOperator, Comparison
from scim2_server.storage import AsyncScimStorage, SearchPage
from scim2_server.utils import load_default_resource_types, load_default_schemas
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.oauth.models import Person
from frontdesk.records import SpaceRef
from frontdesk.security.passwords import Passwords
from frontdesk.services import accounts, admin, apps, domains
from frontdesk.services import spaces as space_service
from frontdesk.services.work import AppStorage
from frontdesk.settings import Settings
from frontdesk.store.inserts import insert_unless_taken, update_unless_taken
from frontdesk.store.models import Membership, ScimGroup, ScimUser, Space, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.types import utcnow

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_RESULTS = 200
"""The largest page a search returns (RFC 7643 §5 ``filter.maxResults``)."""

# The attributes (and sub-attributes) of RFC 7643 §8.7.1's schemas that Frontdesk keeps; the
# schemas it serves are those, trimmed, so a client knows what is kept (RFC 7644 §4).
_KEPT: dict[str, dict[str, set[str] | None]] = {
    USER_SCHEMA: {
        "userName": None,
        "name": {"formatted", "familyName", "givenName"},
        "displayName": None,
        "active": None,
        "password": None,
        "emails": {"value", "display", "type", "primary"},
    },
    GROUP_SCHEMA: {"displayName": None, "members": {"value", "$ref", "type"}},
}
# An account needs an email to log in: ``emails`` (with its ``value``) is required.
_REQUIRED = {(USER_SCHEMA, "emails"), (USER_SCHEMA, "emails.value")}


def _trimmed(schema: Schema) -> Schema:
    kept = _KEPT[str(schema.id)]
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name not in kept:
            continue
        update: dict[str, Any] = {}
        subs = kept[attribute.name]
        if subs is not None:
            update["sub_attributes"] = [
                sub.model_copy(update={"required": Required.true})
                if (schema.id, f"{attribute.name}.{sub.name}") in _REQUIRED
                else sub
                for sub in attribute.sub_attributes or []
                if sub.name in subs
            ]
        if (schema.id, attribute.name) in _REQUIRED:
            update["required"] = Required.true
        attributes.append(attribute.model_copy(update=update))
    return schema.model_copy(update={"attributes": attributes})


def provider() -> ScimProvider:
    """What the SCIM endpoint serves (RFC 7644 §4): RFC 7643's User (without the enterprise
    extension) and Group schemas trimmed to what Frontdesk keeps; PATCH, filters, ETags and
    password changes; no bulk, sorting or cursors. Attributes a client sends that are not kept
    are ignored, and Microsoft Entra's PATCH habits are accepted (scim2-models'
    :class:`ScimPolicy`)."""
    schemas = load_default_schemas()
    types = load_default_resource_types()
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        # A password is set with PUT or PATCH (RFC 7643 §5 changePassword), checked as the
        # admin API checks it.
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="A client_credentials token (RFC 6749 §4.4) holding the scope scim",
                primary=True,
            )
        ],
    )
    policy = ScimPolicy(
        unknown=ScimPolicy.Unknown.ignore,
        remove_value_as_filter=ScimPolicy.RemoveValue.apply,
        unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
    )
    return ScimProvider.from_discovery(
        [_trimmed(schemas[USER_SCHEMA]), _trimmed(schemas[GROUP_SCHEMA])],
        [types["User"].model_copy(update={"schema_extensions": None}), types["Group"]],
        config=config,
        policy=policy,
    )


# ---- subdomains of the spaces SCIM creates ---------------------------------------------------------


def _slug(text: str | None) -> str:
    """A DNS label from a name: accents dropped, lower case, runs of anything but letters and
    digits become one hyphen, at most 50 characters."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:50].strip("-")


async def _free_subdomain(db: AsyncSession, display_name: str, external_id: str | None) -> str:
    """The subdomain of a space created by SCIM (docs/integrating.md, "SCIM 2.0"): the
    ``displayName`` as a DNS label, else the ``externalId``'s, else ``space``; ``-2``, ``-3``…
    appended while that is reserved or taken."""
    base = _slug(display_name) or _slug(external_id) or "space"
    for n in range(1, 1000):
        candidate = base if n == 1 else f"{base}-{n}"
        try:
            candidate = space_service.validate_subdomain(candidate)
        except FieldError:
            continue
        if await space_service.get_by_subdomain(db, candidate) is None:
            return candidate
    raise ConflictException(detail="no free subdomain for this group; rename it")


# ---- the storage ----------------------------------------------------------------------------------


def _key(text: str) -> str:
    """How userName values compare (RFC 7643 §4.1.1: not case-exact)."""
    return unicodedata.normalize("NFC", text.strip()).casefold()


def _version(document: dict[str, Any]) -> str:
    """A weak ETag (RFC 7644 §3.14) of a resource: the digest of what a read returns."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:20]}"'


@contextmanager
def _as_scim_errors() -> Iterator[None]:
    """The services' errors as SCIM errors (RFC 7644 §3.12)."""
    try:
        yield
    except FieldError as exc:
        if "already" in exc.message or "taken" in exc.message:
            raise UniquenessException(detail=f"{exc.field}: {exc.message}") from exc
        raise InvalidValueException(detail=f"{exc.field}: {exc.message}") from exc
    except NotFound as exc:
        raise NotFoundException(detail=exc.message) from exc
    except Conflict as exc:
        raise ConflictException(detail=exc.message) from exc


Recorder = Callable[..., Awaitable[None]]
"""Records the ``admin.action`` audit event of a change (``web/admin_auth.AdminCaller.record``)."""


@dataclass
class _UserRow:
    user: User
    link: ScimUser | None


class FrontdeskScimStorage(AsyncScimStorage):
    """SCIM's resources in Frontdesk's database, for one request (one unit of work).

    ``client_id`` is the administrative app calling: the spaces it creates are owned by that
    app's owner (a space always has an owner, an admin of it)."""

    def __init__(
        self,
        db: AsyncSession,
        sessions: AppStorage,
        *,
        passwords: Passwords,
        settings: Settings,
        scim: ScimProvider,
        client_id: str,
        record: Recorder,
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.passwords = passwords
        self.settings = settings
        self.scim = scim
        self.client_id = client_id
        self.record = record

    # -- models ------------------------------------------------------------------------------------

    def _model(self, name: str) -> type[Resource[Any]]:
        resource_type = next(rt for rt in self.scim.resource_types if rt.name == name)
        return cast(type[Resource[Any]], self.scim.model_for(resource_type))

    def _resource(
        self, name: str, document: dict[str, Any], created: datetime, modified: datetime
    ) -> Resource[Any]:
        meta = {
            "resourceType": name,
            "created": created.isoformat(),
            "lastModified": max(created, modified).isoformat(),
            "version": _version(document),
        }
        return self._model(name).model_validate({**document, "meta": meta})

    # -- users -------------------------------------------------------------------------------------

    def _user_document(self, row: _UserRow) -> dict[str, Any]:
        user, link = row.user, row.link
        # An account SCIM never wrote reads as its email, name and state.
        kept: dict[str, Any] = (
            dict(link.attributes)
            if link is not None
            else {"displayName": True, "active": True, "emails": [{"value": user.email, "primary": True}]}
        )
        document: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "id": user.id,
            "userName": link.user_name if link is not None and link.user_name else user.email,
        }
        if link is not None and link.external_id:
            document["externalId"] = link.external_id
        if kept.get("name"):
            document["name"] = kept["name"]
        if kept.get("displayName"):
            document["displayName"] = user.name
        emails = [dict(e) for e in kept.get("emails") or []] or [{"value": user.email, "primary": True}]
        emails[_primary_index(emails)]["value"] = user.email
        document["emails"] = emails
        if user.disabled_at is not None:
            document["active"] = False
        elif kept.get("active"):
            document["active"] = True
        return document

    def _user_resource(self, row: _UserRow) -> Resource[Any]:
        modified = max(row.user.updated_at, row.link.updated_at) if row.link else row.user.updated_at
        return self._resource("User", self._user_document(row), row.user.created_at, modified)

    async def _user_rows(
        self, where: ColumnElement[bool] | None = None, offset: int = 0, limit: int | None = None
    ) -> list[_UserRow]:
        stmt = (
            select(User, ScimUser)
            .outerjoin(ScimUser, ScimUser.user_id == User.id)
            .order_by(User.created_at, User.id)
            .execution_options(populate_existing=True)
        )
        if where is not None:
            stmt = stmt.where(where)
        stmt = stmt.offset(offset or None).limit(limit)
        return [_UserRow(user, link) for user, link in (await self.db.execute(stmt)).all()]

    async def _user_row(self, user_id: str) -> _UserRow:
        rows = await self._user_rows(User.id == user_id) if user_id and len(user_id) <= 64 else []
        if not rows:
            raise NotFoundException(detail=f"no user {user_id!r}")
        return rows[0]

    @staticmethod
    def _user_name_is(value: str) -> ColumnElement[bool]:
        key = _key(value)
        return or_(
            ScimUser.user_name_key == key,
            and_(ScimUser.user_name_key.is_(None), User.email_key == accounts.email_key(value)),
        )

    async def _check_user_name(self, user_name: str, user_id: str | None) -> None:
        """RFC 7643 §4.1.1: userName is unique (``uniqueness: server``), whatever its case."""
        taken = await self._user_rows(self._user_name_is(user_name))
        if any(row.user.id != user_id for row in taken):
            raise UniquenessException(detail=f"the userName {user_name!r} is taken")

    async def _check_email(self, email: str, user_id: str | None) -> None:
        other = await accounts.find_by_email(self.db, email)
        if other is not None and other.id != user_id:
            raise UniquenessException(detail="an account with this email address already exists")

    @staticmethod
    def _wanted(resource: Resource[Any]) -> tuple[str, str | None, dict[str, Any]]:
        """The account's email and name a User asks for, and the attributes kept for it."""
        data = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
        emails = [e for e in data.get("emails") or [] if e.get("value")]
        if not emails:
            raise InvalidValueException(detail="emails: an account needs an email address")
        email = emails[_primary_index(emails)]["value"]
        name_parts = data.get("name") or {}
        name = (
            data.get("displayName")
            or name_parts.get("formatted")
            or " ".join(p for p in (name_parts.get("givenName"), name_parts.get("familyName")) if p)
            or None
        )
        kept: dict[str, Any] = {"emails": emails}
        if name_parts:
            kept["name"] = name_parts
        if data.get("displayName"):
            kept["displayName"] = True
        if "active" in data:
            kept["active"] = True
        return email, name, kept

    async def _save_link(
        self, user_id: str, resource: Resource[Any], email: str, kept: dict[str, Any]
    ) -> None:
        """Write the account's SCIM fields. Requests racing for one userName all pass
        :meth:`_check_user_name` before any has written; the unique index on ``user_name_key``
        decides (store/inserts.py), and the losers get the same 409 ``uniqueness`` (RFC 7644
        §3.3) with nothing of theirs kept (the endpoint rolls a refused operation back,
        web/routes/scim.py)."""
        user_name = cast(str, getattr(resource, "user_name", None) or email)
        kept_name = None if _key(user_name) == accounts.email_key(email) else user_name
        values = {
            "user_name": kept_name,
            "user_name_key": _key(user_name) if kept_name else None,
            "external_id": resource.external_id,
            "attributes": kept,
            "updated_at": utcnow(),
        }
        if await self.db.get(ScimUser, user_id) is None:
            saved = await insert_unless_taken(self.db, ScimUser, {"user_id": user_id, **values})
        else:
            saved = await update_unless_taken(
                self.db, update(ScimUser).where(ScimUser.user_id == user_id).values(**values)
            )
        if not saved:
            raise UniquenessException(detail=f"the userName {user_name!r} is taken")

    async def _create_user(self, resource: Resource[Any]) -> Resource[Any]:
        email, name, kept = self._wanted(resource)
        await self._check_user_name(cast(str, getattr(resource, "user_name", None) or email), None)
        await self._check_email(email, None)
        with _as_scim_errors():
            person = await accounts.create_user(
                self.db, self.passwords, email=email, name=name, password=getattr(resource, "password", None)
            )
            if getattr(resource, "active", None) is False:
                await admin.set_disabled(self.db, self.sessions, person.id, True)
        await self._save_link(person.id, resource, email, kept)
        await self.record("scim.users.create", user_id=person.id)
        return self._user_resource(await self._user_row(person.id))

    async def _update_user(self, resource: Resource[Any], expected_version: str | None) -> Resource[Any]:
        row = await self._user_row(cast(str, resource.id))
        _check_version(self._user_resource(row), expected_version)
        user = row.user
        email, name, kept = self._wanted(resource)
        await self._check_user_name(cast(str, getattr(resource, "user_name", None) or email), user.id)
        changes: dict[str, Any] = {}
        if email != user.email:
            await self._check_email(email, user.id)
            changes["email"] = email
        if name is not None and name != user.name:
            changes["name"] = name
        with _as_scim_errors():
            if changes:
                await admin.update_user(self.db, user.id, **changes)
            password = getattr(resource, "password", None)
            if password:
                await accounts.set_password(self.db, self.passwords, user.id, password)
            disable = getattr(resource, "active", None) is False
            if disable != (user.disabled_at is not None):
                await admin.set_disabled(self.db, self.sessions, user.id, disable)
        await self._save_link(user.id, resource, email, kept)
        await self.record("scim.users.update", user_id=user.id, fields=sorted(changes))
        return self._user_resource(await self._user_row(user.id))

    async def _delete_user(self, user_id: str, expected_version: str | None) -> None:
        row = await self._user_row(user_id)
        _check_version(self._user_resource(row), expected_version)
        with _as_scim_errors():
            await accounts.delete_user(self.db, user_id)
        await self.record("scim.users.delete", deleted_user_id=user_id)

    # -- groups ------------------------------------------------------------------------------------

    async def _group_rows(
        self, where: ColumnElement[bool] | None = None, offset: int = 0, limit: int | None = None
    ) -> list[tuple[Space, ScimGroup | None]]:
        stmt = (
            select(Space, ScimGroup)
            .outerjoin(ScimGroup, ScimGroup.space_id == Space.id)
            .order_by(Space.created_at, Space.id)
            .execution_options(populate_existing=True)
        )
        if where is not None:
            stmt = stmt.where(where)
        stmt = stmt.offset(offset or None).limit(limit)
        return [(space, link) for space, link in (await self.db.execute(stmt)).all()]

    async def _members(self, spaces: list[Space]) -> dict[str, list[str]]:
        """The user ids of each space's memberships but its owner's, oldest first."""
        found: dict[str, list[str]] = {s.id: [] for s in spaces}
        owners = {s.id: s.owner_id for s in spaces}
        for space_id in found:
            stmt = (
                SpaceScope(space_id)
                .select(Membership)
                .with_only_columns(Membership.user_id)
                .order_by(Membership.created_at, Membership.id)
            )
            found[space_id] = [
                uid for uid in (await self.db.execute(stmt)).scalars() if uid != owners[space_id]
            ]
        return found

    def _group_resource(self, space: Space, link: ScimGroup | None, members: list[str]) -> Resource[Any]:
        document: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": space.id, "displayName": space.name}
        if link is not None and link.external_id:
            document["externalId"] = link.external_id
        if members:
            document["members"] = [{"value": uid, "$ref": f"Users/{uid}", "type": "User"} for uid in members]
        modified = link.updated_at if link is not None else space.created_at
        return self._resource("Group", document, space.created_at, modified)

    async def _group(self, space_id: str) -> tuple[Space, ScimGroup | None, Resource[Any]]:
        rows = await self._group_rows(Space.id == space_id) if space_id and len(space_id) <= 64 else []
        if not rows:
            raise NotFoundException(detail=f"no group {space_id!r}")
        space, link = rows[0]
        members = (await self._members([space]))[space.id]
        return space, link, self._group_resource(space, link, members)

    async def _wanted_members(self, resource: Resource[Any]) -> list[Person]:
        people: list[Person] = []
        for member in getattr(resource, "members", None) or []:
            if member.type not in (None, "User"):
                raise InvalidValueException(detail="members: only users can be members (no nested groups)")
            person = await accounts.get_person(self.db, member.value) if member.value else None
            if person is None:
                raise InvalidValueException(detail=f"members: no user {member.value!r}")
            if person.id not in {p.id for p in people}:
                people.append(person)
        return people

    async def _set_members(self, space: SpaceRef, current: list[str], wanted: list[Person]) -> None:
        """Memberships added and removed through the service the admin API uses (their audit
        events and webhooks follow). The owner's membership stays whatever is asked."""
        wanted_ids = {p.id for p in wanted}
        with _as_scim_errors():
            for person in wanted:
                if person.id in current or person.id == space.owner_id:
                    continue
                if await space_service.membership_of(self.db, space.id, person.id) is not None:
                    continue
                made = await space_service.add_member(self.db, space, email=person.email, role="member")
                await self.record(
                    "scim.groups.members.add", space_id=space.id, user_id=person.id, membership_id=made.id
                )
            for user_id in current:
                if user_id in wanted_ids:
                    continue
                membership = await space_service.membership_of(self.db, space.id, user_id)
                if membership is None:
                    continue
                await space_service.remove_member(self.db, space, membership.id)
                await self.record(
                    "scim.groups.members.remove",
                    space_id=space.id,
                    user_id=user_id,
                    membership_id=membership.id,
                )

    async def _group_link(self, space_id: str, external_id: str | None) -> None:
        link = await self.db.get(ScimGroup, space_id)
        if link is None:
            link = ScimGroup(space_id=space_id)
            self.db.add(link)
        link.external_id = external_id
        link.updated_at = utcnow()

    async def _owner(self) -> Person:
        app = await apps.get_app(self.db, self.client_id)
        owner = await accounts.get_person(self.db, app.owner_id) if app is not None else None
        if owner is None:
            raise ConflictException(detail="the calling app has no owner to own the new space")
        return owner

    async def _create_group(self, resource: Resource[Any]) -> Resource[Any]:
        name = cast(str, getattr(resource, "display_name", None) or "")
        wanted = await self._wanted_members(resource)
        owner = await self._owner()
        with _as_scim_errors():
            space = await space_service.create_space(
                self.db,
                self.settings,
                subdomain=await _free_subdomain(self.db, name, resource.external_id),
                name=name,
                owner=owner,
            )
        await self.record("scim.groups.create", space_id=space.id, user_id=owner.id)
        await self._set_members(space, [], wanted)
        await self._group_link(space.id, resource.external_id)
        await self.db.flush()
        return (await self._group(space.id))[2]

    async def _update_group(self, resource: Resource[Any], expected_version: str | None) -> Resource[Any]:
        row, _, current = await self._group(cast(str, resource.id))
        _check_version(current, expected_version)
        space = await space_service.get_space(self.db, row.id)
        assert space is not None
        name = cast(str, getattr(resource, "display_name", None) or "")
        wanted = await self._wanted_members(resource)
        if name != space.name:
            state = await domains.domain_state(self.db, space.id)
            with _as_scim_errors():
                space = await space_service.update_space(
                    self.db, self.settings, space.id, name=name, custom_domain=state.pending or state.verified
                )
            await self.record("scim.groups.update", space_id=space.id, fields=["displayName"])
        members = [m.value for m in getattr(current, "members", None) or []]
        await self._set_members(space, members, wanted)
        await self._group_link(space.id, resource.external_id)
        await self.db.flush()
        return (await self._group(space.id))[2]

    async def _delete_group(self, space_id: str, expected_version: str | None) -> None:
        _, _, current = await self._group(space_id)
        _check_version(current, expected_version)
        space = await space_service.get_space(self.db, space_id)
        assert space is not None
        with _as_scim_errors():
            await space_service.delete_space(self.db, space)
        await self.record("scim.groups.delete", deleted_space_id=space.id, subdomain=space.subdomain)

    # -- searching ---------------------------------------------------------------------------------

    def _narrowing(self, name: str, scim_filter: ScimFilter[Any] | None) -> ColumnElement[bool] | None:
        """A SQL condition every match of the filter meets, for the ``eq`` comparisons identity
        providers send (``userName``, ``externalId``, ``id``, a Group's ``displayName``); None:
        every resource is a candidate. The filter itself then decides (``ScimFilter.match``)."""
        node = scim_filter.ast if scim_filter is not None else None
        if (
            not isinstance(node, Comparison)
            or node.op != CompareOperator.eq
            or not isinstance(node.value, str)
        ):
            return None
        assert scim_filter is not None
        binding = scim_filter.resolve_comparison(node.attr_path, strict=False)
        if binding is None or binding.sub_field_name is not None:
            return None
        field, value = binding.field_name, node.value
        if name == "User":
            if field == "user_name":
                return self._user_name_is(value)
            if field == "external_id":
                return ScimUser.external_id == value
            if field == "id":
                return User.id == value
        else:
            if field == "display_name":
                return func.lower(Space.name) == value.lower()
            if field == "external_id":
                return ScimGroup.external_id == value
            if field == "id":
                return Space.id == value
        return None

    async def _candidates(
        self, name: str, where: ColumnElement[bool] | None, window: tuple[int, int | None] = (0, None)
    ) -> list[Resource[Any]]:
        """The resources of a type meeting ``where``, oldest first; ``window``: only the
        ``(offset, limit)`` slice of them, read as such from the database."""
        offset, limit = window
        if name == "User":
            return [self._user_resource(row) for row in await self._user_rows(where, offset, limit)]
        rows = await self._group_rows(where, offset, limit)
        members = await self._members([space for space, _ in rows])
        return [self._group_resource(space, link, members[space.id]) for space, link in rows]

    # -- AsyncScimStorage ---------------------------------------------------------------------------

    async def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        if resource_type.name == "User":
            return self._user_resource(await self._user_row(resource_id))
        return (await self._group(resource_id))[2]

    async def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        # One resource type, or several at the root (RFC 7644 §3.4.2.1): users first, then
        # groups, each oldest first.
        scim_filter = search_request.filter
        single = len(resource_types) == 1
        start = search_request.start_index_0 or 0
        stop = None if search_request.count is None else start + search_request.count
        if single and scim_filter is None:
            # A plain listing (an identity provider importing everyone) reads its page only.
            name = cast(str, resource_types[0].name)
            table = User if name == "User" else Space
            total = (await self.db.execute(select(func.count()).select_from(table))).scalar_one()
            page = await self._candidates(name, None, (start, search_request.count))
            return SearchPage(total, page)
        found: list[Resource[Any]] = []
        for resource_type in resource_types:
            name = cast(str, resource_type.name)
            found += await self._candidates(name, self._narrowing(name, scim_filter) if single else None)
        if scim_filter is not None:
            found = [r for r in found if scim_filter.match(r)]
        return SearchPage(len(found), found[start:stop])

    async def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == "User":
            return await self._create_user(resource)
        return await self._create_group(resource)

    async def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        if resource_type.name == "User":
            return await self._update_user(resource, expected_version)
        return await self._update_group(resource, expected_version)

    async def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        if resource_type.name == "User":
            await self._delete_user(resource_id, expected_version)
        else:
            await self._delete_group(resource_id, expected_version)


def _primary_index(emails: list[dict[str, Any]]) -> int:
    """The entry of ``emails`` that is the account's email: the primary one, else the first."""
    return next((i for i, e in enumerate(emails) if e.get("primary")), 0)


def _check_version(current: Resource[Any], expected: str | None) -> None:
    """RFC 7644 §3.14: a write conditioned on a version the resource no longer has fails."""
    if expected is not None and current.meta is not None and current.meta.version != expected:
        raise PreconditionFailedException


__all__ = ["FrontdeskScimStorage", "provider"]
