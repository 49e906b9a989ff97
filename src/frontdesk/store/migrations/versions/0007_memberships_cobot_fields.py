"""memberships cobot fields (issue 12 section 2 (Cobot compatibility: membership fields))

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:40:00.000000

Cobot's membership record carries ``confirmed_at`` and ``canceled_to``; apps skip memberships
without ``confirmed_at`` (docs/compatibility.md, "Memberships"). ``users.picture_url`` is a
picture the platform sets through its admin API (otherwise ``/api/user`` reports the generated
avatar).

Existing memberships are confirmed as of their creation: every membership Frontdesk created so
far gave access at once (an admin added an existing account, or the owner created the space), so
that is when it became effective. A downgrade drops the three columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirmed_at", frontdesk.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("canceled_to", sa.Date(), nullable=True))
    op.execute("UPDATE memberships SET confirmed_at = created_at WHERE confirmed_at IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("picture_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): the columns carry no index or constraint,
    # and copying the tables instead would trip the foreign keys of the rows pointing at them.
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("picture_url")
    with op.batch_alter_table("memberships", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("canceled_to")
        batch_op.drop_column("confirmed_at")
