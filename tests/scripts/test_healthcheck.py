"""scripts/healthcheck.py: the containers' health check (compose.yaml) against a real local server."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from typing import Iterator

import pytest

from scripts.healthcheck import check
from tests.conftest import ROOT


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/ready" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.healthcheck", *args], cwd=ROOT, capture_output=True, text=True)


def test_a_2xx_is_healthy_anything_else_is_not_and_says_why(server: str) -> None:
    assert run(f"{server}/ready").returncode == 0
    failed = run(f"{server}/degraded")
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr


def test_a_server_that_is_not_there_is_unhealthy(server: str) -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert check(f"http://127.0.0.1:{port}/", timeout=2) is not None


def test_anything_but_an_http_url_is_refused() -> None:
    out = run("file:///etc/passwd")
    assert out.returncode == 2 and "not an http(s) URL" in out.stderr
