"""Alembic environment, configured by bot.db (no alembic.ini): the URL or an open connection come as attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import bot.leads.models  # noqa: F401  (registers the tables on Base.metadata for autogenerate)
import bot.staff.models  # noqa: F401
from bot.db import Base, database_url, make_engine

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    # Batch mode lets later ALTERs work on SQLite, which rebuilds the table instead.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True)


def run_offline() -> None:
    context.configure(
        url=config.attributes.get("url") or database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # the caller owns the connection (tests pin a PostgreSQL schema on it)
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.attributes.get("url") or database_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
