"""An index on ``access_tokens.parent_id``

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 07:10:00.000000

Revoking a token also revokes the tokens made from it (store/revocation.py), and
``frontdesk db prune`` keeps a token while one made from it remains (store/pruning.py): both
look tokens up by ``parent_id``, which without an index meant a scan of every token per lookup.

Building it holds writes to ``access_tokens`` back for its duration: 0.75 s for a million rows
on PostgreSQL here (docs/operations.md, "Upgrading while serving"); token requests meanwhile
wait, none fails.
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_access_tokens_parent_id", "access_tokens", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_access_tokens_parent_id", table_name="access_tokens")
