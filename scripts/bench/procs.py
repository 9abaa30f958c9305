"""Processes the bench starts: each in its own session (so its children stop with it), logged to a file,
and stopped on every way out — normal end, an error, Ctrl-C, SIGTERM (see `install_signal_handlers`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Dict, List, Mapping, Optional, Sequence, Type

import httpx

_LIVE: List[Proc] = []  # every process started and not yet stopped, for the last-resort clean-up


class HarnessError(RuntimeError):
    """Something the bench itself could not do (a server did not start, a training failed)."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    started: float  # time.monotonic() just before the spawn

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def check_alive(self) -> None:
        if not self.alive():
            raise HarnessError(f"{self.name} exited with {self.popen.returncode}; log {self.log}:\n{self.log_tail()}")


def spawn(name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> Proc:
    """Start argv in a new session with stdout and stderr to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        started = time.monotonic()
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc = Proc(name, popen, log, started)
    _LIVE.append(proc)
    return proc


def stop(proc: Proc, timeout: float = 20.0) -> None:
    """SIGTERM the process's group, then SIGKILL it if it has not ended within timeout seconds."""
    try:
        if proc.alive():
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.popen.wait(timeout=10)
        _signal_group(proc, signal.SIGKILL)  # children that outlived their parent
    finally:
        if proc in _LIVE:
            _LIVE.remove(proc)


def _signal_group(proc: Proc, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the process leads its own group (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    for proc in reversed(list(_LIVE)):
        stop(proc)


class Processes:
    """`with Processes() as procs:` — everything started through it is stopped when the block ends."""

    def __init__(self) -> None:
        self.procs: List[Proc] = []

    def start(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> Proc:
        proc = spawn(name, argv, cwd, env, log)
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        for proc in reversed(self.procs):
            stop(proc)


def install_signal_handlers() -> None:
    """SIGINT (also when started with it ignored, as a background job), SIGTERM and SIGHUP all end the run
    like Ctrl-C does, so every `finally` stops its processes."""

    def interrupt(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def run_timed(name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, timeout: float) -> float:
    """Run argv to the end (stopped on Ctrl-C too); its wall-clock seconds. Raises HarnessError if it fails."""
    proc = spawn(name, argv, cwd, env, log)
    try:
        proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{name} took more than {timeout:.0f}s; log {log}:\n{proc.log_tail()}") from None
    finally:
        elapsed = time.monotonic() - proc.started
        stop(proc)
    if proc.popen.returncode != 0:
        raise HarnessError(f"{name} failed with {proc.popen.returncode}; log {log}:\n{proc.log_tail()}")
    return elapsed


def wait_http(proc: Proc, url: str, seconds: float) -> None:
    """Until GET url answers below 500 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        proc.check_alive()
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise HarnessError(f"{proc.name} did not answer at {url} within {seconds:.0f}s; log {proc.log}:\n{proc.log_tail()}")


# --- memory ----------------------------------------------------------------------------------------


def _children_map() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> List[int]:
    """pid and all its descendants that are alive now."""
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status (VmRSS, RssAnon, RssFile...) in MiB; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its descendants, in MiB."""
    return round(sum(rss_mb(member, field) for member in process_tree(pid)), 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time of these processes and their descendants."""
    return sum(cpu_seconds(member) for pid in pids for member in process_tree(pid))


def python_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    return out.stdout.strip() or sys.version.split()[0]
