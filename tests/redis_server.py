"""A Redis of a test's own that wants a password (`requirepass`), and over TLS too when redis-server can.

    with redis_server(tmp_path) as server:
        server.url(db=3)               # redis://:<password>@127.0.0.1:<port>/3
        server.url(tls=True)           # rediss://...:<tls port>/0?ssl_cert_reqs=required&ssl_ca_certs=<ca>

The password is random per server; the certificate is a self-signed one for 127.0.0.1 made with openssl.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    password: str
    tls_port: Optional[int]
    ca_file: Optional[Path]
    no_tls_reason: str  # why tls_port is None

    def url(self, db: int = 0, password: Optional[str] = None, user: str = "", tls: bool = False) -> str:
        secret = self.password if password is None else password
        auth = f"{user}:{secret}@" if (user or secret) else ""
        if not tls:
            return f"redis://{auth}127.0.0.1:{self.port}/{db}"
        assert self.tls_port is not None, self.no_tls_reason
        return f"rediss://{auth}127.0.0.1:{self.tls_port}/{db}?ssl_cert_reqs=required&ssl_ca_certs={self.ca_file}"

    def admin(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, decode_responses=True)


def _certificate(directory: Path) -> Optional[Path]:
    """A self-signed certificate (and key) for 127.0.0.1: its own CA, so clients can verify it."""
    if shutil.which("openssl") is None:
        return None
    cert, key = directory / "redis.crt", directory / "redis.key"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, text=True,
    )
    return cert if made.returncode == 0 else None


def _wait(server: RedisServer, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {log.read_text()[-2000:]}")
        try:
            if server.admin().ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer within 20 s")


def _start(server: RedisServer, argv: List[str], log: Path) -> subprocess.Popen:
    process = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait(server, process, log)
    except RuntimeError:
        _stop(process)
        raise
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(10)


@contextmanager
def redis_server(directory: Path, tls: bool = True) -> Iterator[RedisServer]:
    """redis-server --port <free> --requirepass <random> --save '' --appendonly no, plus a --tls-port when
    `tls` and redis-server was built with TLS (else `no_tls_reason` says why not); stopped afterwards."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (make redis installs it)")
    server = RedisServer(free_port(), secrets.token_urlsafe(18), None, None, "TLS not requested")
    argv: List[str] = ["redis-server", "--port", str(server.port), "--bind", "127.0.0.1", "--requirepass", server.password,
                       "--save", "", "--appendonly", "no", "--dir", str(directory)]
    process: Optional[subprocess.Popen] = None
    cert = _certificate(directory) if tls else None
    if tls and cert is None:
        server.no_tls_reason = "openssl is missing or could not make a certificate"
    elif cert is not None:
        server.tls_port, server.ca_file = free_port(), cert
        tls_argv = argv + ["--tls-port", str(server.tls_port), "--tls-cert-file", str(cert), "--tls-key-file",
                           str(directory / "redis.key"), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
        try:
            process = _start(server, tls_argv, directory / "redis-tls.log")
        except RuntimeError:  # e.g. "Bad directive or wrong number of arguments" for tls-port
            reason = (directory / "redis-tls.log").read_text()[-300:].strip()
            server.tls_port, server.ca_file = None, None
            server.no_tls_reason = f"redis-server refused the TLS options (built without TLS?): {reason}"
    if process is None:
        process = _start(server, argv, directory / "redis.log")
    try:
        yield server
    finally:
        _stop(process)
