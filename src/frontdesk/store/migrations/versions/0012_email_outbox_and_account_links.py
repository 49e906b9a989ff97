"""email outbox and account links (issue 13: email, verification, password reset)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 13:10:00.000000

* ``users.email_verified_at``: when the person opened the verification link (NULL: the
  address is not verified; existing accounts start unverified).
* ``email_links``: single-use links sent by email (verification, password reset), stored as
  the digest of their token only.
* ``email_messages``: the email outbox, written in the transaction of the change that sends a
  message, sent by the worker (email_worker.py); the template's values are sealed with the
  server secret.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", UTC, nullable=True))
    op.create_table(
        "email_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_links_user_id"), ["user_id"], unique=False)
    op.create_table(
        "email_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("context_sealed", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.create_index("ix_email_messages_status_next", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_email_messages_status_next")
    op.drop_table("email_messages")
    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_links_user_id"))
    op.drop_table("email_links")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
