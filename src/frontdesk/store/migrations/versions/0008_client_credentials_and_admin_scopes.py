"""client credentials and admin scopes (issue 12 section 3 (client_credentials, admin scopes, secret rotation))

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:40:00.000000

* ``apps.client_credentials``: the app may use the client_credentials grant (RFC 6749 §4.4);
  ``apps.admin_scopes``: the administrative scopes it may hold that way
  (``admin:<resource>:read|write``, ``scim``; docs/integrating.md, "Admin API").
* ``apps.previous_secret_digest`` / ``previous_secret_expires_at``: after a secret rotation
  with an overlap window, the old secret keeps working until then.
* ``access_tokens.user_id`` may be NULL: a client_credentials token acts for no person.
* ``users.disabled_at``: an operator disabled the account (no login, no tokens).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_credentials", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("admin_scopes", sa.String(length=2000), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("previous_secret_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "previous_secret_expires_at", frontdesk.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled_at", frontdesk.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # Tokens that act for no person (client_credentials) cannot exist before this revision.
    op.execute("DELETE FROM access_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_digest")
        batch_op.drop_column("admin_scopes")
        batch_op.drop_column("client_credentials")
