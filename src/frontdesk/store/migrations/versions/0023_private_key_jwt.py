"""private_key_jwt client authentication (RFC 7523): apps' keys, FAPI 2.0 profile (issue 14)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 16:15:00.000000
"""

from __future__ import annotations

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
