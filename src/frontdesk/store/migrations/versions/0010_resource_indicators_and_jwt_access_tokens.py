"""resource indicators and jwt access tokens (issue 12 section 4 (resource indicators, JWT access tokens))

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:40:00.000000

* ``authorization_codes.resource``, ``access_tokens.audience``, ``refresh_tokens.audience``:
  the resource a token was requested for (RFC 8707 §2); NULL: no ``resource`` was sent and
  the token is good at every host of this deployment, as before.
* ``apps.jwt_access_tokens``: the app's access tokens are RFC 9068 JWTs (off: opaque tokens,
  the default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("jwt_access_tokens", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # Narrowed tokens become good at every host again, and JWT apps get opaque tokens.
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("jwt_access_tokens")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("audience")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_column("audience")
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("resource")
