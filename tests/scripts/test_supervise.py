"""The process runner's supervisor: a child that dies is restarted and says so; TERM stops the child and
everything it started; a periodic job runs at start and again after each interval. Tiny Python children, no Rasa."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, List

import pytest

from tests.conftest import ROOT


def supervise(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scripts.supervise", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def read_until(proc: subprocess.Popen[str], done: Callable[[List[str]], bool], seconds: float = 10.0) -> List[str]:
    lines: List[str] = []
    deadline = time.monotonic() + seconds
    assert proc.stdout is not None
    while not done(lines):
        assert time.monotonic() < deadline, f"timed out; output so far: {lines}"
        line = proc.stdout.readline()
        assert line, f"supervisor ended early: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting to be reaped by init is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: List[int], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if alive(p)]}"
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_child_that_dies_is_restarted_with_a_message_and_its_output_kept(tmp_path: Path) -> None:
    log = tmp_path / "flaky.log"
    proc = supervise("--name", "flaky", "--log", str(log), "--min-backoff", "0.05", "--",
                     sys.executable, "-c", "import sys; print('child ran', flush=True); sys.exit(3)")
    lines = read_until(proc, lambda seen: sum("restarted flaky (exit 3)" in s for s in seen) >= 2)
    assert lines[0].startswith("started flaky (pid ") and f"log {log}" in lines[0]
    assert any("flaky died (exit 3); starting it again in 0.05 s" in s for s in lines)
    assert any("flaky died (exit 3); starting it again in 0.1 s" in s for s in lines)  # the back-off grows
    assert stop(proc) == 0
    text = log.read_text()
    assert text.count("child ran") >= 3 and "supervisor: restarted flaky (exit 3)" in text


def test_a_child_refusing_its_configuration_is_not_restarted(tmp_path: Path) -> None:
    """Exit 78 (EX_CONFIG: e.g. a development secret with APP_ENV=production): restarting cannot fix it."""
    proc = supervise("--name", "app", "--min-backoff", "0.05", "--", sys.executable, "-c", "import sys; sys.exit(78)")
    lines = read_until(proc, lambda seen: any("not restarting" in s for s in seen))
    assert proc.wait(10) == 78 and not any("restarted app" in s for s in lines)


def test_a_child_killed_by_a_signal_is_restarted_and_the_signal_named_like_a_shell(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    proc = supervise("--name", "victim", "--min-backoff", "0.05", "--", sys.executable, "-c", script)
    read_until(proc, lambda seen: any(s.startswith("started victim") for s in seen))
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    read_until(proc, lambda seen: any("restarted victim (exit 137)" in s for s in seen))
    assert stop(proc) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_term_or_ctrl_c_stops_the_child_and_everything_it_started(tmp_path: Path, sig: int) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import os, subprocess, time
        grandchild = subprocess.Popen(["sleep", "300"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{grandchild.pid}}")
        time.sleep(300)
    """)
    proc = supervise("--name", "tree", "--", sys.executable, "-c", script)
    deadline = time.monotonic() + 10
    while not pids.exists() or len(pids.read_text().split()) < 2:
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    started = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in started)
    assert stop(proc, sig) == 0
    wait_gone(started)


def test_a_child_that_ignores_term_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = (f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              f"open({str(ready)!r}, 'w').write('1'); time.sleep(300)")
    proc = supervise("--name", "stubborn", "--grace", "0.5", "--", sys.executable, "-c", script)
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    assert stop(proc) == 0
    assert time.monotonic() - started < 5


def test_a_periodic_job_runs_at_start_and_after_each_interval(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = f"open({str(runs)!r}, 'a').write('run\\n')"
    proc = supervise("--name", "retention", "--every", "0.3", "--", sys.executable, "-c", script)
    lines = read_until(proc, lambda seen: sum("retention done; next run in 0.3 s" in s for s in seen) >= 3)
    assert lines[0].startswith("started retention") and not any("restarted" in s for s in lines)
    assert stop(proc) == 0
    assert runs.read_text().count("run") >= 3


def test_a_failing_periodic_job_is_tried_again_after_the_back_off(tmp_path: Path) -> None:
    proc = supervise("--name", "retention", "--every", "3600", "--min-backoff", "0.05", "--",
                     sys.executable, "-c", "raise SystemExit(2)")
    read_until(proc, lambda seen: sum("retention failed (exit 2)" in s for s in seen) >= 2)  # not an hour later
    assert stop(proc) == 0


def test_bad_arguments_are_refused_with_a_message() -> None:
    out = subprocess.run([sys.executable, "-m", "scripts.supervise", "--name", "x", "--every", "soon", "--", "true"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and "'soon' is not a number of seconds" in out.stderr


def test_log_dash_passes_the_childs_output_through(tmp_path: Path) -> None:
    """In a container (compose's retention service) the child's output is the container's log."""
    proc = supervise("--name", "retention", "--log", "-", "--every", "3600", "--",
                     sys.executable, "-c", "print('purged 3 leads', flush=True)")
    lines = read_until(proc, lambda seen: any("retention done" in s for s in seen))
    assert "purged 3 leads" in lines and lines[0].startswith("started retention (pid ") and "log" not in lines[0]
    assert stop(proc) == 0
    assert not (ROOT / "-").exists() and not list(tmp_path.iterdir())
