"""scripts/run_all.sh (`make run`) end to end, with a stand-in for Rasa and the action server: every process
starts under the supervisor, the retention job runs at start, a child that dies is restarted and says so, and
TERM stops everything. The web app, the delivery worker and the retention job are the real ones (SQLite in a
temporary directory, the test Redis database)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from bot.shared.redis_conn import env_for_db
from tests import redis_env
from tests.conftest import ROOT
from tests.scripts.test_supervise import alive, read_until, wait_gone

REDIS_DB = 11  # no other test uses it

# Answers like the Rasa server (/webhooks/health/ready) or the action server (/health) on --port.
FAKE_RASA = """#!{python}
import http.server, json, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"status": "ready" if "ready" in self.path else "ok"}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The script in a directory of its own: the real app and environment linked in, a fake `rasa`."""
    (tmp_path / "scripts").mkdir()
    for name in ("run_all.sh", "supervise.py", "processes.py"):
        shutil.copy(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "processes.yml", tmp_path / "deploy" / "processes.yml")  # the command lines
    (tmp_path / "bot").symlink_to(ROOT / "bot")
    (tmp_path / ".venv-app").symlink_to(ROOT / ".venv-app")
    (tmp_path / ".venv-rasa" / "bin").mkdir(parents=True)
    for name in ("rasa", "python"):  # `rasa run` for the replicas, `python -m actions.server` for the actions
        fake = tmp_path / ".venv-rasa" / "bin" / name
        fake.write_text(FAKE_RASA.format(python=sys.executable))
        fake.chmod(0o755)
    return tmp_path


@pytest.fixture
def redis_db() -> Iterator[str]:
    """A Redis database for this test alone: the real delivery worker takes whatever the outbox there holds."""
    client = redis_env.client(REDIS_DB)
    yield str(REDIS_DB)
    for key in client.scan_iter("gzcp:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def running(project: Path, redis_db: str) -> Iterator[subprocess.Popen[str]]:
    app_port = free_port()
    env: Dict[str, str] = {
        **os.environ, "PYTHONPATH": str(project), "RASA_PORT": str(free_port()), "ACTIONS_PORT": str(free_port()),
        "APP_PORT": str(app_port), "INTAKE_URL": f"http://127.0.0.1:{app_port}", "RASA_REPLICAS": "1",
        "RASA_AUTH_TOKEN": "t", "INTAKE_API_KEY": "k",
        "DATABASE_URL": f"sqlite:///{project / 'leads.db'}", "RETENTION_INTERVAL_SECONDS": "3600",
        "TELEGRAM_BOT_TOKEN": "", **env_for_db(os.environ, int(redis_db)),
    }
    env.pop("RASA_URLS", None)
    proc = subprocess.Popen(["bash", str(project / "scripts" / "run_all.sh")], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    for pid in started_in(project):  # after a failure: nothing this test started may outlive it
        os.kill(pid, signal.SIGKILL)


def started_in(directory: Path) -> List[int]:
    """Processes running in `directory` (each child of run_all.sh runs there)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd") == str(directory):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def pids(lines: List[str]) -> Dict[str, int]:
    """The newest pid of each child, from the supervisors' "started"/"restarted" messages (searched, not matched
    at the start of a line: bash may write a line's text and its newline apart, with a message in between)."""
    found: Dict[str, int] = {}
    for line in lines:
        for match in re.finditer(r"(?:started|restarted) ([a-z0-9 ]+?) \((?:pid (\d+)|exit \d+\), pid (\d+))", line):
            found[match.group(1)] = int(match.group(2) or match.group(3))
    return found


def test_make_run_supervises_every_process_restarts_the_dead_and_stops_on_term(
        running: subprocess.Popen[str], project: Path) -> None:
    lines = read_until(running, lambda seen: any("All up" in s for s in seen), seconds=120)
    children = pids(lines)
    assert set(children) == {"action server", "rasa replica 1", "web app", "delivery worker", "retention job",
                             "funnel sync"}, "\n".join(lines)
    assert all(alive(pid) for name, pid in children.items() if name != "retention job")  # that one runs and ends

    os.kill(children["delivery worker"], signal.SIGKILL)
    lines += read_until(running, lambda seen: any("restarted delivery worker (exit 137)" in s for s in seen),
                        seconds=30)
    restarted = pids(lines)["delivery worker"]
    assert restarted != children["delivery worker"] and alive(restarted)

    retention_log = project / "var" / "log" / "retention.log"
    deadline = time.monotonic() + 60
    while "retention (24 months" not in (retention_log.read_text() if retention_log.exists() else ""):
        assert time.monotonic() < deadline, "the retention job did not run at start"
        time.sleep(0.2)

    os.killpg(running.pid, signal.SIGTERM)
    assert running.wait(30) == 0
    wait_gone([pid for name, pid in pids(lines).items() if name != "retention job"], seconds=15)
    with pytest.raises(ProcessLookupError):  # no supervisor left either
        os.killpg(running.pid, 0)
    assert started_in(project) == []
