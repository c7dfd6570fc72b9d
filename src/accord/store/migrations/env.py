"""Alembic environment for the audit store.

Run programmatically by :func:`accord.store.migrate.upgrade`, which hands over a connection
already in a transaction (``config.attributes["connection"]``). Run from the ``alembic`` command
line, it connects to ``sqlalchemy.url`` from the config or else the store's default URL
(``ACCORD_DATABASE_URL``, then ``.accord/accord.db``); ``--sql`` (offline mode) prints the DDL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from accord.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_offline() -> None:
    from accord.store.migrate import default_url

    context.configure(
        url=config.get_main_option("sqlalchemy.url") or default_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from accord.store.migrate import default_url, make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or default_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
