"""DPoP (RFC 9449): tokens bound to a key, apps that require it (issue 14)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 16:15:00.000000

* ``access_tokens.dpop_jkt``, ``refresh_tokens.dpop_jkt``: the JWK SHA-256 thumbprint (RFC 7638,
  43 base64url characters) of the key the token is bound to (RFC 9449 §6, §5); NULL: a bearer
  token, as before.
* ``authorization_codes.dpop_jkt``: the ``dpop_jkt`` authorization request parameter (§10).
* ``apps.dpop_required``: the app's token requests need a DPoP proof (§5.2
  ``dpop_bound_access_tokens``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("access_tokens", "refresh_tokens", "authorization_codes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dpop_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # Bound tokens become bearer tokens again.
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("dpop_required")
    for table in ("authorization_codes", "refresh_tokens", "access_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("dpop_jkt")
