"""second factors (issue 13: TOTP, recovery codes, amr/acr, per-space admin requirement)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:40:00.000000

* ``totp_factors``: one authenticator app per account (RFC 6238); the shared secret sealed
  with the server secret, the time step of the last accepted code (no replay, RFC 6238 §5.2),
  ``confirmed_at`` NULL while set-up awaits its first code.
* ``recovery_codes``: single-use recovery codes, stored as digests only.
* ``sessions``: how the session's login was made (``amr``, RFC 8176 values; NULL: a password
  login from before this revision), when its authentication completed (``authenticated_at``,
  OIDC ``auth_time``; NULL: ``created_at``) and whether it still waits for a second factor
  (``pending_factor``: such a session is no login).
* ``authorization_codes.amr``: the login's methods, carried to the ID token.
* ``spaces.require_admin_second_factor``: the space's admin pages need a second factor.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "totp_factors",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("confirmed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("authenticated_at", UTC, nullable=True))
        batch_op.add_column(
            sa.Column("pending_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(length=100), nullable=True))
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_admin_second_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.drop_column("require_admin_second_factor")
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("amr")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("pending_factor")
        batch_op.drop_column("authenticated_at")
        batch_op.drop_column("amr")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    op.drop_table("totp_factors")
