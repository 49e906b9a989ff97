"""token exchange (RFC 8693): the acting party of delegated tokens (issue 14)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
