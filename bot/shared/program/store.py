"""Keep a value loaded from data files current: reload when a watched file changes.

Staff edit a YAML file and the next answer uses it: no retraining, no restart. A broken edit is
logged and the last good version keeps serving; with nothing loaded yet a broken file is fatal.
Program knowledge and the eligibility rules both use this.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Generic, Iterable, Optional, Sequence, Tuple, TypeVar, Union

from bot.shared.program.knowledge import DATA_DIR, Knowledge, ProgramDataError, data_files, load_knowledge

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Reloading(Generic[T]):
    def __init__(self, load: Callable[[], T], watched: Union[Sequence[Path], Callable[[], Iterable[Path]]], what: str,
                 check_interval: float = 0.0) -> None:
        self._load = load
        # A list, or a function listing the files now (a new facts file is then noticed too).
        self._watched = watched if callable(watched) else tuple(Path(p) for p in watched)
        self.what = what
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._value: Optional[T] = None
        self._stamp: Tuple[Tuple[str, int, int], ...] = ()
        self._checked_at = 0.0

    @property
    def watched(self) -> Tuple[Path, ...]:
        return tuple(Path(p) for p in (self._watched() if callable(self._watched) else self._watched))

    def _file_stamp(self) -> Tuple[Tuple[str, int, int], ...]:
        stamps = []
        for path in self.watched:
            try:
                stat = path.stat()
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                stamps.append((str(path), -1, -1))
        return tuple(stamps)

    def load(self) -> T:
        """Load now; raise ProgramDataError if the files are broken (use at start-up)."""
        with self._lock:
            stamp = self._file_stamp()
            self._value = self._load()
            self._stamp = stamp
            self._checked_at = time.monotonic()
            return self._value

    def current(self) -> T:
        """The latest valid value, reloading changed files at most once per interval."""
        if self._value is None:
            return self.load()
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return self._value
        with self._lock:
            self._checked_at = now
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._value = self._load()
                    logger.info("%s reloaded", self.what)
                except ProgramDataError as error:
                    logger.error("%s change rejected, keeping the previous version: %s", self.what, error)
            return self._value


class KnowledgeStore(Reloading[Knowledge]):
    def __init__(self, data_dir: Path = DATA_DIR, check_interval: float = 1.0) -> None:
        self.data_dir = Path(data_dir)
        super().__init__(
            lambda: load_knowledge(self.data_dir), lambda: data_files(self.data_dir), "program data", check_interval
        )


default_store = KnowledgeStore()
