"""The configuration files are read with dotenv rules: secrets reach the processes unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts.env import environment
from tests.conftest import ROOT


def test_dollar_and_hash_in_a_secret_reach_the_process_unchanged(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("INTAKE_API_KEY=dev-only\nAPP_PORT=8000\n", encoding="utf-8")
    (tmp_path / ".env").write_text("INTAKE_API_KEY=pa$$w0rd#1$HOME\nRASA_AUTH_TOKEN='a b $c # d'\n", encoding="utf-8")
    env = environment(tmp_path, base={})
    assert env["INTAKE_API_KEY"] == "pa$$w0rd#1$HOME" and env["RASA_AUTH_TOKEN"] == "a b $c # d"
    assert env["APP_PORT"] == "8000"  # from .env.example, .env did not override it


def test_the_real_environment_wins_and_the_command_sees_it(tmp_path: Path) -> None:
    assert environment(tmp_path, base={"APP_PORT": "9000"})["APP_PORT"] == "9000"
    out = subprocess.run(
        [sys.executable, "-m", "scripts.env", "--", sys.executable, "-c", "import os; print(os.environ['RASA_PORT'])"],
        cwd=ROOT, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    expected = environment(ROOT, base={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})["RASA_PORT"]
    assert out.stdout.strip() == expected  # what the files say, handed to the command
