"""The whole product as separate processes on test ports, each stoppable and restartable by a test:
its own Redis (append-only file, so a restart keeps what was written), an action server, two Rasa
replicas, the web app as chat gateway, a second web app as the intake, and the delivery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import redis
from sqlalchemy import create_engine, text

from scripts import processes
from tests.conftest import ROOT
from tests.integration.conftest import TOKEN, TRACKER_WINDOW, _wait, actions_argv, process_argv, rasa_argv

BASE = int(os.environ.get("TEST_CLUSTER_BASE_PORT", "16400"))
INTAKE_KEY = "cluster-intake-key"


class Service:
    def __init__(self, name: str, argv: List[str], env: Dict[str, str], log: Path, ready_url: Optional[str]) -> None:
        self.name, self.argv, self.env, self.log, self.ready_url = name, argv, env, log, ready_url
        self.proc: Optional[subprocess.Popen] = None

    def start(self, wait: bool = True, seconds: float = 240) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(seconds)

    def wait_ready(self, seconds: float = 240) -> None:
        assert self.proc is not None
        if self.ready_url is not None:
            _wait(self.ready_url, self.proc, self.log, seconds)
        elif self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """A crash (SIGKILL): nothing is finished or released."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """Frozen (SIGSTOP): connections are accepted, nothing is answered until `resume`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """A clean stop (SIGTERM, as a deploy or an operator would): in-flight requests may finish."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class Cluster:
    def __init__(self, workdir: Path, replicas: int = 2, base: int = BASE) -> None:
        self.dir = workdir
        self.redis_port, self.actions_port = base, base + 55
        self.rasa_ports = [base + 5 + i for i in range(replicas)]
        self.gateway_port, self.intake_port = base + 80, base + 81
        self.db_url = f"sqlite:///{workdir / 'leads.db'}"
        self.rasa_urls = [f"http://127.0.0.1:{p}" for p in self.rasa_ports]
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_DB": "0",
            "REDIS_URL": "",  # this cluster's own Redis, whatever the caller's REDIS_URL says
            "TRACKER_TTL_SECONDS": "3600",
            "TRACKER_WINDOW": TRACKER_WINDOW,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "RASA_AUTH_TOKEN": TOKEN,
            "RASA_URLS": ",".join(self.rasa_urls),
            "INTAKE_URL": f"http://127.0.0.1:{self.intake_port}",
            "INTAKE_API_KEY": INTAKE_KEY,
            "DATABASE_URL": self.db_url,
            "PROGRAM_CONTACT_EMAIL": "cluster-staff@example.org",
            "PROGRAM_CONTACT_PHONE": "",
            "CHAT_RATE_PER_MINUTE": "10000",
            "CHAT_RATE_PER_MINUTE_IP": "100000",
            "CHAT_RASA_RETRY_DELAYS": "0.5,1,2",
            "HEALTH_CHECK_SECONDS": "1",
        }
        self.env = env
        health = {name: process.health for name, process in processes.load().processes.items()}

        def log(name: str) -> Path:
            return workdir / f"{name}.log"

        self.redis = Service(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(workdir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            env, log("redis"), None,
        )
        self.actions = Service(
            "action server",
            actions_argv(self.actions_port),
            env, log("actions"), f"http://127.0.0.1:{self.actions_port}{health['actions']['ready']}",
        )
        self.rasa = [
            Service(
                f"rasa {port}",
                rasa_argv(port),
                env, log(f"rasa-{port}"), f"http://127.0.0.1:{port}{health['rasa']['ready']}",
            )
            for port in self.rasa_ports
        ]
        # Every command line as deploy/processes.yml defines it (the one scripts/run_all.sh and the images use).
        self.gateway = Service("gateway", process_argv("web", APP_PORT=str(self.gateway_port)), env, log("gateway"),
                               f"{self.gateway_url}{health['web']['live']}")
        self.intake = Service("intake", process_argv("web", APP_PORT=str(self.intake_port)), env, log("intake"),
                              f"http://127.0.0.1:{self.intake_port}{health['web']['live']}")
        self.worker = Service("delivery worker", process_argv("worker"), env, log("delivery"), None)
        self.migrate_argv = process_argv("migrate")
        self.engine = create_engine(self.db_url)

    @property
    def services(self) -> List[Service]:
        return [self.redis, self.actions, *self.rasa, self.gateway, self.intake, self.worker]

    def start(self) -> None:
        self.redis.start(wait=False)
        self.wait_redis()
        subprocess.run(self.migrate_argv, env=self.env, cwd=ROOT, check=True, capture_output=True)
        self.actions.start(wait=False)
        for replica in self.rasa:
            replica.start(wait=False)
        for service in (self.gateway, self.intake, self.worker):
            service.start(wait=False)
        for service in self.services:
            service.wait_ready()

    def restart_redis(self, down_seconds: float) -> None:
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis.start(wait=False)
        self.wait_redis()

    def wait_redis(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("the test Redis did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis_port, decode_responses=True, socket_timeout=2)

    def close(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.engine.dispose()

    def leads(self, conversation_id: str) -> List[Dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT kind, category FROM leads WHERE conversation_id = :c"),
                                      {"c": conversation_id})
            return [dict(row._mapping) for row in rows]

    def lead_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM leads")).scalar_one())
