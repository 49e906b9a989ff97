"""Alembic environment: runs on the connection handed over by frontdesk.store.migrate."""

from __future__ import annotations

from alembic import context

from frontdesk.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `frontdesk db upgrade`")
    if connection.dialect.name == "sqlite":
        # A batch migration rebuilds a table (copy, DROP, rename). With foreign keys on, the
        # DROP deletes the old table's rows first and every ON DELETE CASCADE fires: rebuilding
        # `apps` or `users` would empty the token, code and membership tables. SQLite takes
        # this pragma only outside a transaction, so before the first migration statement;
        # the connection is the migration's own (store/migrate.py) and is closed afterwards.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
