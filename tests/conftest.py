"""Shared test set-up: the project root on sys.path, and a writable copy of the program data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.shared.program.knowledge import DATA_DIR  # noqa: E402


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A copy of bot/shared/program/data that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target
