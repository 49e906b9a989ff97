"""private_key_jwt client authentication (RFC 7523): apps' keys, FAPI 2.0 profile (issue 14)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 16:15:00.000000

* ``apps.token_endpoint_auth_method``: NULL for a client secret (or none for a public app),
  ``private_key_jwt`` for an app that authenticates with a signed assertion (RFC 7591 §2,
  RFC 7523 §2.2).
* ``apps.jwks`` (a JWK Set as JSON text, public keys only) or ``apps.jwks_uri`` (where the app
  publishes it): the keys its assertions are verified with.
* ``apps.profile``: NULL, or ``fapi2`` for an app under the FAPI 2.0 Security Profile
  (oauth/models.Client.fapi: PAR, DPoP and private_key_jwt required, docs/flows.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_endpoint_auth_method", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("jwks", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("jwks_uri", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("profile", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Apps registered with keys are left without a way to authenticate: they need a secret.
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("profile")
        batch_op.drop_column("jwks_uri")
        batch_op.drop_column("jwks")
        batch_op.drop_column("token_endpoint_auth_method")
