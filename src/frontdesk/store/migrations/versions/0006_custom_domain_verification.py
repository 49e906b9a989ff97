"""custom domain verification

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000

A space's ``custom_domain`` is now the *verified* domain (the only one served); a domain an
admin asks for waits in ``pending_domain`` until its DNS TXT record carries the space's
``domain_token`` (docs/deployment.md, "Custom domains"). Domains already in the database stay
in ``custom_domain``, i.e. verified: an upgrade keeps serving them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("domain_token", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Pending (unverified) domains are dropped: before this revision every stored domain was served.
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.drop_column("domain_token")
        batch_op.drop_column("pending_domain")
