"""scim external ids (issue 12 section 3: SCIM 2.0 provisioning)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:05:00.000000

* ``scim_users``: what an identity provider told Frontdesk about an account through SCIM
  (services/scim.py) that the account itself does not hold: its ``externalId``, its
  ``userName`` when that is not the account's email, and the SCIM attributes kept so that a
  read gives back what was written (``name``, the ``emails`` list). One row per account at
  most; it goes with the account.
* ``scim_groups``: a space's ``externalId`` (spaces are SCIM Groups); it goes with the space.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import frontdesk.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = frontdesk.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scim_users",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("user_name_key", sa.String(length=255), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("user_name_key"),
    )
    op.create_index("ix_scim_users_external_id", "scim_users", ["external_id"])
    op.create_table(
        "scim_groups",
        sa.Column("space_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["space_id"], ["spaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("space_id"),
    )
    op.create_index("ix_scim_groups_external_id", "scim_groups", ["external_id"])


def downgrade() -> None:
    op.drop_index("ix_scim_groups_external_id", table_name="scim_groups")
    op.drop_table("scim_groups")
    op.drop_index("ix_scim_users_external_id", table_name="scim_users")
    op.drop_table("scim_users")
