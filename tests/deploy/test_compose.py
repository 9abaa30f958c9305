"""compose.yaml: valid against the compose specification (check-jsonschema's vendored schema), the project's
rules, and its Redis command run for real (password from a file, append-only file on)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from dotenv import dotenv_values

from scripts.deploy.checks import compose_problems
from scripts.processes import load
from tests.conftest import ROOT


def compose() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_is_valid_and_keeps_the_projects_rules() -> None:
    assert compose_problems() == []


def test_only_the_web_app_is_published_on_loopback_and_secrets_come_from_env() -> None:
    services = compose()["services"]
    assert [name for name, s in services.items() if "ports" in s] == ["web"]
    assert services["web"]["ports"] == ["${APP_PUBLISH:-127.0.0.1:8000}:8000"]
    replicas = int(dotenv_values(ROOT / ".env.example")["RASA_REPLICAS"] or 2)
    rasa = [name for name in services if name.startswith("rasa-")]
    assert len(rasa) == replicas
    assert services["web"]["environment"]["RASA_URLS"] == ",".join(f"http://{n}:5005" for n in rasa)
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["command"] == ["migrate"] and services["migrate"]["restart"] == "no"
    assert "--appendonly yes" in services["redis"]["command"][-1]
    assert services["telegram"]["profiles"] == ["telegram"]
    every = load()["retention"].every
    assert services["retention"]["entrypoint"][-7:] == ["--every", every, "--", "python", "-m", "scripts.processes", "exec"]
    for name, service in services.items():
        env = service.get("environment") or {}
        assert "REDIS_PASSWORD}" not in str(env.get("REDIS_URL", "")) or ":?" in env["REDIS_URL"]
        if name not in ("redis", "postgres"):
            assert env.get("CONVERSATION_SECRET", "${CONVERSATION_SECRET:?").startswith("${CONVERSATION_SECRET:?")
            assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert compose()["networks"]["backend"] == {"internal": True}


@pytest.mark.parametrize("breakage, expected", [
    (lambda doc: doc["services"]["web"].__setitem__("prots", ["8000:8000"]), "not valid against the compose specification"),
    (lambda doc: doc["services"]["rasa-1"].__setitem__("ports", ["5005:5005"]), "rasa-1 publishes a port"),
    (lambda doc: doc["services"]["web"]["depends_on"].pop("migrate"), "web must wait for migrate"),
    (lambda doc: doc["services"]["worker"].__setitem__("command", ["rasa"]), "worker runs rasa in gzcp-app"),
    (lambda doc: doc["services"]["rasa-2"]["healthcheck"]["test"].__setitem__(-1, "http://127.0.0.1:5005/"),
     "rasa-2's health check is not"),
    (lambda doc: doc["services"]["web"]["environment"].__setitem__("METRICS_TOKEN", "written-down"),
     "METRICS_TOKEN must be required from .env"),
])
def test_a_broken_compose_file_is_refused(tmp_path: Path, breakage: Any, expected: str) -> None:
    doc = compose()
    breakage(doc)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    problems = compose_problems(broken)
    assert any(expected in p for p in problems), problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_compose_redis_command_requires_its_password_and_keeps_an_append_only_file(tmp_path: Path) -> None:
    """compose.yaml's own Redis command line, run here (no container engine): the password reaches Redis through a
    file, not its command line, and the health check's redis-cli call answers only with it."""
    service = compose()["services"]["redis"]
    script = service["command"][-1].replace("$$", "$").replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    port = free_port()
    script = script.replace("--dir /data", f"--dir {tmp_path} --port {port} --bind 127.0.0.1 --save ''")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "REDIS_PASSWORD": "compose-test-password"}
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = service["healthcheck"]["test"][1].replace("$$", "$").replace("redis-cli", f"redis-cli -p {port}")
        deadline = time.monotonic() + 10
        while subprocess.run(["sh", "-c", health], env=env).returncode != 0:
            assert time.monotonic() < deadline, "the compose Redis did not answer its health check"
            time.sleep(0.1)
        no_password = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        assert "NOAUTH" in no_password.stdout + no_password.stderr
        appendonly = subprocess.run(["redis-cli", "-p", str(port), "config", "get", "appendonly"],
                                    env={**env, "REDISCLI_AUTH": env["REDIS_PASSWORD"]}, capture_output=True, text=True)
        assert appendonly.stdout.split() == ["appendonly", "yes"]
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"compose-test-password" not in cmdline  # exec'd redis-server: its command line has no password
        assert oct((tmp_path / "redis.conf").stat().st_mode)[-3:] == "600"
    finally:
        proc.terminate()
        proc.wait(10)
