"""The images' locks: runtime packages only, at the development locks' versions, each with its hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

from scripts.deploy.checks import lock_problems, pins
from tests.conftest import ROOT


def test_every_runtime_pin_is_the_development_locks_and_no_test_tool_is_in_an_image() -> None:
    assert lock_problems() == []
    app = pins(ROOT / "requirements/app.runtime.lock.txt")
    assert {"fastapi", "uvicorn", "psycopg", "alembic", "python-telegram-bot"} <= set(app)
    assert not {"pytest", "playwright", "schemathesis", "hypothesis", "matplotlib", "ruff", "pip-audit"} & set(app)
    actions = pins(ROOT / "requirements/actions.runtime.lock.txt")
    assert "rasa-sdk" in actions and "rasa" not in actions and "tensorflow" not in actions
    assert "pytest" not in pins(ROOT / "requirements/rasa.runtime.lock.txt")


def test_a_runtime_pin_that_drifts_from_the_development_lock_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    for lock in (ROOT / "requirements").glob("*.txt"):
        shutil.copy(lock, tmp_path / "requirements" / lock.name)
    runtime = tmp_path / "requirements/app.runtime.lock.txt"
    runtime.write_text(runtime.read_text().replace("\nfastapi==", "\nfastapi==0.0.1\nunused==", 1))
    problems = lock_problems(root=tmp_path)
    assert any("fastapi==0.0.1, but requirements/app.lock.txt has" in p for p in problems)
    assert any("--hash" in p for p in problems)
