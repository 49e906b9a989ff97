"""DPoP (RFC 9449): tokens bound to a key, apps that require it (issue 14)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
