"""device authorization grant (RFC 8628): device codes and user codes (issue 14)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
