"""`python -m bot.db`: the migrations run against DATABASE_URL, down and up again; the default is var/leads.db."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot import db


def _tables(url: str) -> set:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert db.main(["upgrade"]) == 0
    assert {"leads", "alembic_version"} <= _tables(url)
    assert db.main(["downgrade", "base"]) == 0
    assert "leads" not in _tables(url)
    assert db.main(["upgrade", "head"]) == 0 and "leads" in _tables(url)


def test_the_default_database_is_a_sqlite_file_under_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(db, "DEFAULT_SQLITE_PATH", tmp_path / "var" / "leads.db")
    assert db.database_url() == f"sqlite:///{tmp_path / 'var' / 'leads.db'}"
    assert (tmp_path / "var").is_dir()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/d")
    assert db.database_url() == "postgresql+psycopg://u@h/d"
