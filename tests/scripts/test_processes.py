"""scripts/processes.py and deploy/processes.yml: the one definition of every process's command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import yaml

from scripts import processes
from scripts.processes import DefinitionError, MissingVariable, load, local_argv, substitute
from tests.conftest import ROOT


def run(*args: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.processes", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_definition_names_every_process_and_an_image_for_each() -> None:
    definition = load()
    assert set(definition.processes) == {"rasa", "actions", "web", "worker", "retention", "funnel", "telegram", "migrate"}
    for image in definition.images.values():
        assert (ROOT / image["dockerfile"]).is_file() and (ROOT / image["lock"]).is_file()
    assert {p.name for p in definition.processes.values() if p.kind == "server"} == {"rasa", "actions", "web"}


def test_variables_are_filled_in_as_a_shell_would() -> None:
    assert substitute("${A}", {"A": "x"}) == "x"
    assert substitute("${A:-d}", {}) == "d" and substitute("${A:-d}", {"A": ""}) == "d"
    assert substitute("${A:-d}", {"A": "x"}) == "x"
    assert substitute("--port=${P}/${Q:-}", {"P": "1"}) == "--port=1/"
    with pytest.raises(MissingVariable, match="RASA_PORT not set"):
        load()["rasa"].argv({"RASA_AUTH_TOKEN": "t"})


@pytest.mark.parametrize("change, message", [
    ({"colour": "blue"}, "unknown field(s) colour"),
    ({"command": ["rasa", "--port", "$RASA_PORT"]}, "write variables as ${VAR}"),
    ({"command": ["${RASA_BIN}", "run"]}, "the program itself"),
    ({"image": "nginx"}, "`image` must be one of"),
    ({"port": None}, "a server needs `port"),
    ({"health": {"live": "/x"}}, "a server needs `health"),
    ({"kind": "periodic", "port": None, "health": None}, "a periodic process (and only one)"),
    ({"kind": "worker"}, "only a server has a port"),
])
def test_a_broken_definition_is_refused_naming_the_process_and_field(tmp_path: Path, change: dict, message: str) -> None:
    raw = yaml.safe_load((ROOT / "deploy" / "processes.yml").read_text())
    raw["processes"]["rasa"].update(change)
    path = tmp_path / "processes.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DefinitionError, match="process 'rasa'") as error:
        load(path)
    assert message in str(error.value)


def test_local_command_lines_take_programs_from_each_runtime_environment() -> None:
    env = {"RASA_PORT": "5006", "RASA_AUTH_TOKEN": "t", "APP_PORT": "8001"}
    assert local_argv("rasa", env)[:2] == [".venv-rasa/bin/rasa", "run"]
    assert local_argv("rasa", env)[local_argv("rasa", env).index("--interface") + 1] == "127.0.0.1"
    assert local_argv("web", env, root=ROOT)[0] == str(ROOT / ".venv-app/bin/uvicorn")
    assert local_argv("migrate", {}) == [".venv-app/bin/python", "-m", "bot.db", "upgrade"]
    assert processes.every_seconds("retention", {}) == 86400
    assert processes.every_seconds("retention", {"RETENTION_INTERVAL_SECONDS": "60"}) == 60
    with pytest.raises(DefinitionError, match="not a number"):
        processes.every_seconds("retention", {"RETENTION_INTERVAL_SECONDS": "daily"})


def test_the_cli_prints_nul_separated_arguments_and_refuses_a_missing_variable() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_AUTH_TOKEN": "a token with spaces"}
    env.pop("RASA_PORT", None)
    out = run("local", "rasa", "RASA_PORT=5009", env=env)
    assert out.returncode == 0
    argv = out.stdout.split("\0")[:-1]
    assert argv[argv.index("--port") + 1] == "5009" and "a token with spaces" in argv
    refused = run("exec", "rasa", env=env)  # what a container without RASA_PORT would do
    assert refused.returncode == processes.EX_CONFIG and "RASA_PORT not set" in refused.stderr
    unknown = run("exec", "nginx", env=env)
    assert unknown.returncode == processes.EX_USAGE and "no process 'nginx'" in unknown.stderr


def test_exec_runs_the_defined_command_in_its_place(tmp_path: Path) -> None:
    """The images' ENTRYPOINT: `exec migrate` is `python -m bot.db upgrade`, for real, on a fresh database."""
    database = tmp_path / "leads.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "development", "DATABASE_URL": f"sqlite:///{database}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # `python` is this environment's, as in the image
    done = run("exec", "migrate", env=env)
    assert done.returncode == 0, done.stderr
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"alembic_version", "leads"} <= tables
