"""users.locale (issue 13: the language a person chose, for the emails sent to them)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 14:20:00.000000

* ``users.locale``: the language code (``en``, ``de``) the person picked with the chooser or
  signed up in; None: English. Emails are rendered in it (mail/messages.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
