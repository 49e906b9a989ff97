"""token exchange (RFC 8693): the acting party of delegated tokens (issue 14)

* ``access_tokens.act``: the ``act`` claim (RFC 8693 §4.1, JSON text) of a token issued by
  token exchange with an actor token; introspection and JWT access tokens report it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("act", sa.Text(), nullable=True))


def downgrade() -> None:
    # Delegated tokens then read as their subject's own (no ``act`` claim).
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_column("act")
