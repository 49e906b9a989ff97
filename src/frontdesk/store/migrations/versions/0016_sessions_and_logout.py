"""sessions and logout (issue 13: the sessions page, RP-initiated and back-channel logout)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 13:45:00.000000

* ``sessions.public_id``: the session's public handle (the sessions page, the ID token's
  ``sid``); existing sessions get a random one here.
* ``apps.post_logout_redirect_uris`` (OpenID Connect RP-Initiated Logout 1.0 §3.1) and
  ``apps.backchannel_logout_uri`` (Back-Channel Logout 1.0 §2.2).
* ``authorization_codes.sid`` (indexed): the public id of the session a code was issued in;
  the apps a session signed in to, told when it ends, are those of its codes.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SESSIONS = sa.table("sessions", sa.column("id", sa.String), sa.column("public_id", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    for (session_id,) in bind.execute(sa.select(SESSIONS.c.id)).all():
        bind.execute(
            SESSIONS.update().where(SESSIONS.c.id == session_id).values(public_id=secrets.token_hex(16))
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(batch_op.f("ix_sessions_public_id"), ["public_id"], unique=True)
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sid", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_authorization_codes_sid"), ["sid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_codes_sid"))
        batch_op.drop_column("sid")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("backchannel_logout_uri")
        batch_op.drop_column("post_logout_redirect_uris")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_public_id"))
        batch_op.drop_column("public_id")
