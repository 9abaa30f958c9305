"""The app's database: engine and sessions from `DATABASE_URL`, and Alembic migrations without an ini file.

`python -m bot.db upgrade` brings the database at DATABASE_URL to the latest schema (SQLite under
var/ by default; PostgreSQL in production). The app never creates tables itself: the migrations are
the only way the schema changes, so development, tests and production share one path.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, List, Optional

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from bot.settings import settings

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE_PATH = ROOT / "var" / "leads.db"


class Base(DeclarativeBase):
    """Shared metadata: every table of the app hangs here, and the migrations are checked against it."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values and returns them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone so the stored time is unambiguous")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def database_url() -> str:
    """DATABASE_URL, or a SQLite file under var/ at the repository root (created on first use)."""
    url = settings().database_url.strip()
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def make_engine(url: Optional[str] = None, **kwargs: Any) -> Engine:
    url = url or database_url()
    sqlite = make_url(url).get_backend_name() == "sqlite"
    options: dict[str, Any] = {
        "hide_parameters": True,  # SQL errors would otherwise echo emails and phone numbers into the logs
        # A server may drop idle connections (a restart, a proxy's time-out): test each before use. A SQLite
        # file has no connection to lose, and the test would be one more statement per request.
        "pool_pre_ping": not sqlite,
    }
    if sqlite:
        # FastAPI serves sync routes from a thread pool; writers queue on SQLite's lock instead of failing at once.
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    options.update(kwargs)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_wal)
    elif engine.dialect.name == "postgresql":
        # A group of rows (the intake's group commit) as one multi-row INSERT (SQLAlchemy's "insertmanyvalues"),
        # not psycopg's pipelined statement per row: a third of the group's cost in `make bench`.
        engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def _sqlite_wal(connection: Any, _record: Any) -> None:
    """Write-ahead log: readers no longer block the writer and a commit is one append and one fsync
    (synchronous stays FULL, so a stored lead survives a power cut). `make bench` measures the intake."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


_engine: Optional[Engine] = None
_sessions: Optional[sessionmaker[Session]] = None


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine()
    return _engine


def session_factory() -> sessionmaker[Session]:
    global _sessions
    if _sessions is None:
        _sessions = sessionmaker(get_engine(), expire_on_commit=False)
    return _sessions


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request (tests override it to point at their own database)."""
    with session_factory()() as session:
        yield session


async def get_sessions() -> sessionmaker[Session]:
    """FastAPI dependency for async routes that open sessions themselves, on a worker thread (the intake's group
    commit); async, so resolving it costs no thread hop. Tests override it beside get_session."""
    return session_factory()


# --- migrations ------------------------------------------------------------------------------------


def alembic_config(url: Optional[str] = None, connection: Any = None) -> Config:
    """Alembic configured in code: bot/migrations holds env.py and versions/, the URL comes from here."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as attributes, not main options: the ini parser would choke on '%' in a password.
    config.attributes["url"] = url or database_url()
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: Optional[str] = None, revision: str = "head", connection: Any = None) -> None:
    command.upgrade(alembic_config(url, connection), revision)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.db", description="Migrate the database at DATABASE_URL.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="upgrade to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    down = sub.add_parser("downgrade", help="downgrade to a revision (e.g. -1, base)")
    down.add_argument("revision")
    sub.add_parser("current", help="show the database's revision")
    sub.add_parser("history", help="list the migrations")
    rev = sub.add_parser("revision", help="create a new migration file")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true", help="diff the models against the database")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # alembic says which migrations it ran
    config = alembic_config()
    if args.command == "upgrade":
        command.upgrade(config, args.revision, sql=args.sql)
    elif args.command == "downgrade":
        command.downgrade(config, args.revision)
    elif args.command == "current":
        command.current(config, verbose=True)
    elif args.command == "history":
        command.history(config)
    else:
        command.revision(config, message=args.message, autogenerate=args.autogenerate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
