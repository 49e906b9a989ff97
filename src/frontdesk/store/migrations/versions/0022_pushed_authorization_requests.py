"""pushed authorization requests (RFC 9126) and PAR required (issue 14)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 16:15:00.000000

* ``pushed_authorization_requests``: what an app pushed to ``/oauth/par`` (oauth/par.py): a
  digest of the random part of its ``request_uri``, the app, the host (issuer, space), the
  authorization request's parameters, its expiry, when the authorization endpoint first read
  it and when a decision used it up (single use).
* ``apps.par_required``: RFC 9126 §6 ``require_pushed_authorization_requests``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pushed_authorization_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("opened_at", UTC, nullable=True),
        sa.Column("used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["space_id"], ["spaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("pushed_authorization_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pushed_authorization_requests_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pushed_authorization_requests_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("par_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("par_required")
    with op.batch_alter_table("pushed_authorization_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushed_authorization_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_pushed_authorization_requests_app_id"))
    op.drop_table("pushed_authorization_requests")
