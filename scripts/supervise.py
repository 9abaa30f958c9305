"""`python -m scripts.supervise --name NAME --log FILE [--every SECONDS] -- command...`: keep one child running.

scripts/run_all.sh (`make run`) starts each process through this:

- the child's output goes to FILE (`--log -`: this process's own output, as in a container, where the log is
  the container's output); what happens to the child is said on this process's output ("started …",
  "restarted NAME (exit CODE) …") and in FILE;
- a child that dies is started again after a back-off (1 s doubling to 60 s; back to 1 s once a run lasted a
  minute), so one crash never leaves a part of the system down;
- with `--every SECONDS` the command is a periodic job (the retention purge): run at start, then SECONDS after
  each successful run; a failed run is tried again after the back-off;
- TERM, INT or HUP stops the child and everything it started (its own process group: TERM, then KILL after
  `--grace` seconds), then this process exits 0.

Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import IO, List, Optional

EX_CONFIG = 78  # sysexits.h: a child that exits with it is not restarted (restarting cannot fix a setting)
INHERIT = "-"  # --log -: the child writes to our own stdout and stderr
STABLE_SECONDS = 60.0  # a run this long was not a crash loop: the next restart waits the shortest back-off again


class Supervisor:
    def __init__(self, name: str, command: List[str], log: Optional[str], every: Optional[float] = None,
                 min_backoff: float = 1.0, max_backoff: float = 60.0, grace: float = 10.0,
                 out: IO[str] = sys.stdout) -> None:
        self.name, self.command, self.log, self.every = name, command, log, every
        self.min_backoff, self.max_backoff, self.grace = min_backoff, max_backoff, grace
        self.out = out
        # Set by the signal handler: a plain flag, polled. (An Event set from a handler can deadlock when the
        # signal lands while the main thread is inside Event.wait holding the Event's own lock.)
        self.stopping = False
        self.child: Optional[subprocess.Popen[bytes]] = None

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)
        if self.log and self.log != INHERIT:  # the child's log says it too, beside what the child wrote before it died
            with open(self.log, "a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}\n")

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.log == INHERIT:
            return subprocess.Popen(self.command, stdin=subprocess.DEVNULL, start_new_session=True)
        sink = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
        try:
            # A session of its own: signals reach the child's whole tree only through us, and we can end the tree.
            return subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            if sink is not subprocess.DEVNULL:
                sink.close()

    def run(self) -> int:
        backoff = self.min_backoff
        last_code: Optional[int] = None
        while not self.stopping:
            started = time.monotonic()
            try:
                self.child = self._spawn()
            except OSError as error:  # e.g. the program is missing: say so, and try again like a crash
                self.say(f"cannot start {self.name}: {error.strerror or error}")
                code = 127
            else:
                where = f", log {self.log}" if self.log and self.log != INHERIT else ""
                if last_code is None:
                    self.say(f"started {self.name} (pid {self.child.pid}{where})")
                elif self.every is None:
                    self.say(f"restarted {self.name} (exit {last_code}), pid {self.child.pid}")
                code = self._wait_child()
            if self.stopping:
                break
            if code == EX_CONFIG:  # its configuration is wrong (e.g. a development secret in production)
                self.say(f"{self.name} refused to start (exit {code}: configuration); not restarting it - fix the setting")
                return EX_CONFIG
            if time.monotonic() - started >= STABLE_SECONDS:
                backoff = self.min_backoff
            if self.every is not None and code == 0:
                delay = self.every
                backoff = self.min_backoff
                self.say(f"{self.name} done; next run in {delay:g} s")
            else:
                delay = backoff
                backoff = min(self.max_backoff, backoff * 2)
                what = "failed" if self.every is not None else "died"
                self.say(f"{self.name} {what} (exit {code}); starting it again in {delay:g} s")
            last_code = code
            self._sleep(delay)
        self.say(f"stopped {self.name}")
        return 0

    def _wait_child(self) -> int:
        child = self.child
        assert child is not None
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self.stopping:
                    code = self._end_tree()
                    break
        self._end_tree()  # whatever the child left behind (a worker process holding a port) goes with it
        return code if code >= 0 else 128 - code  # killed by signal N: 128+N, as a shell says it

    def _end_tree(self) -> int:
        """TERM the child's process group, KILL what is left after the grace period; the child's exit code."""
        child = self.child
        assert child is not None
        _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and (child.poll() is None or _group_alive(child.pid)):
            time.sleep(0.05)
        _signal_group(child.pid, signal.SIGKILL)
        return child.wait()

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def request_stop(self, *_: object) -> None:
        self.stopping = True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.supervise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="how the child is called in messages")
    parser.add_argument("--log", help="file the child's output is appended to (-: this process's output)")
    parser.add_argument("--every", type=_positive, help="a periodic job: seconds between successful runs")
    parser.add_argument("--min-backoff", type=_positive, default=1.0)
    parser.add_argument("--max-backoff", type=_positive, default=60.0)
    parser.add_argument("--grace", type=_positive, default=10.0, help="seconds a stopping child gets before KILL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    supervisor = Supervisor(args.name, command, args.log, args.every, args.min_backoff, args.max_backoff, args.grace)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, supervisor.request_stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
