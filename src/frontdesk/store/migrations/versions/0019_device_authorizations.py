"""device authorization grant (RFC 8628): device codes and user codes (issue 14)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:15:00.000000

* ``device_authorizations``: one row per device authorization request (oauth/device.py): the
  device code's and the user code's digests (keyed with the server secret; never the codes),
  the app, the host (issuer, space) it was asked at, the scopes, its state (pending, approved,
  denied, used), the poll interval (grows with slow_down), the device's address and
  User-Agent, the person's decision and login, when it expires and was last polled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_authorizations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("device_digest", sa.String(length=64), nullable=False),
        sa.Column("user_code_digest", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=True),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("scope", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("poll_interval", sa.Integer(), nullable=False),
        sa.Column("device_ip", sa.String(length=45), nullable=False),
        sa.Column("device_agent", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("auth_time", UTC, nullable=True),
        sa.Column("amr", sa.String(length=100), nullable=True),
        sa.Column("sid", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("last_polled_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["space_id"], ["spaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_digest"),
    )
    with op.batch_alter_table("device_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_authorizations_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_authorizations_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_authorizations_user_code_digest"), ["user_code_digest"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_authorizations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_authorizations_user_id"))
        batch_op.drop_index(batch_op.f("ix_device_authorizations_user_code_digest"))
        batch_op.drop_index(batch_op.f("ix_device_authorizations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_device_authorizations_app_id"))
    op.drop_table("device_authorizations")
