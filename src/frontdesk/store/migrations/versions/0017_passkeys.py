"""passkeys (issue 13: WebAuthn credentials as a second factor and for passwordless login)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:55:00.000000

* ``webauthn_credentials``: a person's passkeys (WebAuthn Level 2 §6.1 credential records):
  the credential id and COSE public key (base64url), the signature counter last seen, the
  transports the browser reported, a name the person chose, when it was made and last used.
* ``webauthn_challenges``: the one outstanding challenge per browser and ceremony
  (services/passkeys.py): short-lived, deleted when used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_verified", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    with op.batch_alter_table("webauthn_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webauthn_credentials_user_id"), ["user_id"], unique=False)
    op.create_table(
        "webauthn_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("challenge", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("webauthn_challenges")
    with op.batch_alter_table("webauthn_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webauthn_credentials_user_id"))
    op.drop_table("webauthn_credentials")
