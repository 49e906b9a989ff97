"""webhook URLs sealed (issue 12: callback URLs carry the receiving app's secret)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:30:00.000000

``webhook_endpoints.url`` held the callback URL in plaintext, and Cobot's apps put a secret of
their own into it (a per-space secret in the query). It becomes ``url_sealed`` (AES-GCM with
the server secret, bound to the endpoint's id) and ``url_digest`` (the server secret's keyed
digest, for Cobot's "409 on the same event and URL"), exactly as services/webhooks.py
``seal_url`` and ``url_digest`` write them. Existing rows are converted here, so the migration
needs the server secret: the settings handed over by store/migrate.py ``upgrade`` (the
``frontdesk db upgrade`` command's), else read from the environment as the app reads them. A
downgrade opens the URLs again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from frontdesk.security.server_secret import ServerSecret

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ENDPOINTS = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.String),
    sa.column("url", sa.String),
    sa.column("url_sealed", sa.Text),
    sa.column("url_digest", sa.String),
)


def _server_secret() -> ServerSecret:
    settings: Any = context.config.attributes.get("settings")
    if settings is None:
        from frontdesk.settings import Settings

        settings = Settings()
    return ServerSecret(settings.resolve_secret_key())


# The same contexts as services/webhooks.py (_url_context, url_digest); fixed here so that
# this migration keeps converting rows the way it did when it was written.
def _seal(secret: ServerSecret, endpoint_id: str, url: str) -> str:
    return secret.encrypt(url, f"webhook-url:{endpoint_id}")


def _open(secret: ServerSecret, endpoint_id: str, sealed: str) -> str:
    return secret.decrypt(sealed, f"webhook-url:{endpoint_id}")


def _digest(secret: ServerSecret, url: str) -> str:
    return secret.digest(f"webhook-url:{url}")


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("url_digest", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(ENDPOINTS.c.id, ENDPOINTS.c.url)).all()
    if rows:  # the server secret is read only when there is something to seal
        secret = _server_secret()
        for endpoint_id, url in rows:
            bind.execute(
                ENDPOINTS.update()
                .where(ENDPOINTS.c.id == endpoint_id)
                .values(url_sealed=_seal(secret, endpoint_id, url), url_digest=_digest(secret, url))
            )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("url_sealed", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("url_digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("url")
        batch_op.create_index(batch_op.f("ix_webhook_endpoints_url_digest"), ["url_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=2000), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(ENDPOINTS.c.id, ENDPOINTS.c.url_sealed)).all()
    if rows:
        secret = _server_secret()
        for endpoint_id, sealed in rows:
            bind.execute(
                ENDPOINTS.update()
                .where(ENDPOINTS.c.id == endpoint_id)
                .values(url=_open(secret, endpoint_id, sealed))
            )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoints_url_digest"))
        batch_op.drop_column("url_digest")
        batch_op.drop_column("url_sealed")
        batch_op.alter_column("url", existing_type=sa.String(length=2000), nullable=False)
