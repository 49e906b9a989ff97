"""pushed authorization requests (RFC 9126) and PAR required (issue 14)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
