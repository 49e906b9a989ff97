"""email change links and space invitations (issue 13: accounts)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 13:40:00.000000

* ``email_links.new_email``: for an email-change link, the address it confirms (the link is
  sent there; the account's address changes only when it is used).
* ``invitations``: a space admin's invitation by email (services/invitations.py): the digest
  of its single-use token only, the role it grants, when it was accepted or revoked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("new_email", sa.String(length=254), nullable=True))
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("accepted_at", UTC, nullable=True),
        sa.Column("accepted_by", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["space_id"], ["spaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["accepted_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_space_id"), ["space_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_space_id"))
    op.drop_table("invitations")
    with op.batch_alter_table("email_links", schema=None) as batch_op:
        batch_op.drop_column("new_email")
