"""Keeps the current Knowledge and reloads it when a data file changes.

Staff edit a YAML file and the next answer uses it: no retraining, no restart. A broken edit is
logged and the last good version keeps serving; at start-up a broken file is fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional, Tuple

from bot.program.knowledge import DATA_DIR, DATA_FILES, Knowledge, ProgramDataError, load_knowledge

logger = logging.getLogger(__name__)


class KnowledgeStore:
    def __init__(self, data_dir: Path = DATA_DIR, check_interval: float = 1.0) -> None:
        self.data_dir = Path(data_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._knowledge: Optional[Knowledge] = None
        self._stamp: Tuple[float, ...] = ()
        self._checked_at = 0.0

    def _file_stamp(self) -> Tuple[float, ...]:
        stamps = []
        for name in DATA_FILES:
            try:
                stamps.append((self.data_dir / name).stat().st_mtime)
            except FileNotFoundError:
                stamps.append(-1.0)
        return tuple(stamps)

    def load(self) -> Knowledge:
        """Load now; raise ProgramDataError if the files are broken (use at start-up)."""
        with self._lock:
            stamp = self._file_stamp()
            self._knowledge = load_knowledge(self.data_dir)
            self._stamp = stamp
            self._checked_at = time.monotonic()
            return self._knowledge

    def current(self) -> Knowledge:
        """The latest valid knowledge, reloading changed files at most once per interval."""
        if self._knowledge is None:
            return self.load()
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return self._knowledge
        with self._lock:
            self._checked_at = now
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._knowledge = load_knowledge(self.data_dir)
                    logger.info("program data reloaded from %s", self.data_dir)
                except ProgramDataError as error:
                    logger.error("program data change rejected, keeping the previous version: %s", error)
            return self._knowledge


default_store = KnowledgeStore()
