"""SQL storage for :class:`frontdesk.oauth.storage.DeviceStore` (RFC 8628, oauth/device.py).

Device codes and user codes are stored as HMAC digests with the server secret, like every
code and token. The person's decision and the one redemption are conditional updates (the
lock, as in :meth:`frontdesk.store.sql_storage.SqlStorage.consume_code`): on PostgreSQL a
second concurrent update waits for the row and then no longer matches; on SQLite writers
serialise.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth import amr
from frontdesk.oauth.scopes import format_scope, parse_scope
from frontdesk.oauth.storage import (
    DEVICE_APPROVED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    DEVICE_USED,
    DeviceAuthorization,
    DeviceDecision,
    NewDeviceAuthorization,
)
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.models import DeviceAuthorization as DeviceRow

KEEP_EXPIRED = timedelta(days=1)


def user_code_digest(server_secret: ServerSecret, user_code: str) -> str:
    """The digest a (normalised) user code is stored and found under."""
    return server_secret.digest("device-user-code|" + user_code)


def device_record(row: DeviceRow) -> DeviceAuthorization:
    return DeviceAuthorization(
        id=row.id,
        client_id=row.app_id,
        scopes=parse_scope(row.scope),
        issuer=row.issuer,
        space_id=row.space_id,
        interval=row.poll_interval,
        expires_at=row.expires_at,
        device_ip=row.device_ip,
        device_agent=row.device_agent,
        created_at=row.created_at,
        status=row.status,
        user_id=row.user_id,
        auth_time=row.auth_time,
        amr=amr.decode(row.amr),
        sid=row.sid,
        last_polled_at=row.last_polled_at,
    )


class DeviceStorageMixin:
    """Device authorizations: mixed into :class:`frontdesk.store.sql_storage.SqlStorage`."""

    db: AsyncSession
    server_secret: ServerSecret

    async def save_device_authorization(
        self, device_code: str, user_code: str, new: NewDeviceAuthorization, now: datetime
    ) -> bool:
        code_digest = user_code_digest(self.server_secret, user_code)
        taken = await self.db.scalar(
            select(DeviceRow.id).where(DeviceRow.user_code_digest == code_digest, DeviceRow.expires_at > now)
        )
        if taken is not None:
            return False
        # Authorizations a day past their end only ever answer "expired": each new one takes
        # them away (one indexed delete), so the table holds about a day of devices.
        await self.db.execute(
            delete(DeviceRow)
            .where(DeviceRow.expires_at < now - KEEP_EXPIRED)
            .execution_options(synchronize_session=False)
        )
        self.db.add(
            DeviceRow(
                device_digest=self.server_secret.digest(device_code),
                user_code_digest=code_digest,
                app_id=new.client_id,
                space_id=new.space_id,
                issuer=new.issuer,
                scope=format_scope(new.scopes),
                status=DEVICE_PENDING,
                poll_interval=new.interval,
                device_ip=new.device_ip,
                device_agent=new.device_agent,
                created_at=now,
                expires_at=new.expires_at,
            )
        )
        await self.db.flush()
        return True

    async def find_device_by_user_code(self, user_code: str, issuer: str) -> DeviceAuthorization | None:
        row = await self.db.scalar(
            select(DeviceRow)
            .where(
                DeviceRow.user_code_digest == user_code_digest(self.server_secret, user_code),
                DeviceRow.issuer == issuer,
            )
            .order_by(DeviceRow.created_at.desc())
            .limit(1)
        )
        return device_record(row) if row is not None else None

    async def decide_device(self, authorization_id: str, decision: DeviceDecision, now: datetime) -> bool:
        result = await self.db.execute(
            update(DeviceRow)
            .where(
                DeviceRow.id == authorization_id,
                DeviceRow.status == DEVICE_PENDING,
                DeviceRow.expires_at > now,
            )
            .values(
                status=DEVICE_APPROVED if decision.approved else DEVICE_DENIED,
                user_id=decision.user_id,
                auth_time=decision.auth_time,
                amr=amr.encode(decision.amr) or None,
                sid=decision.sid,
                decided_at=now,
            )
            .returning(DeviceRow.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def poll_device(self, device_code: str, now: datetime) -> DeviceAuthorization | None:
        row = await self.db.scalar(
            select(DeviceRow).where(DeviceRow.device_digest == self.server_secret.digest(device_code))
        )
        if row is None:
            return None
        found = device_record(row)
        await self.db.execute(
            update(DeviceRow)
            .where(DeviceRow.id == row.id)
            .values(last_polled_at=now)
            .execution_options(synchronize_session=False)
        )
        return found

    async def slow_device(self, authorization_id: str, interval: int) -> None:
        await self.db.execute(
            update(DeviceRow)
            .where(DeviceRow.id == authorization_id)
            .values(poll_interval=interval)
            .execution_options(synchronize_session=False)
        )

    async def redeem_device(self, authorization_id: str) -> bool:
        result = await self.db.execute(
            update(DeviceRow)
            .where(DeviceRow.id == authorization_id, DeviceRow.status == DEVICE_APPROVED)
            .values(status=DEVICE_USED)
            .returning(DeviceRow.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None
