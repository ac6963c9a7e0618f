"""One SQLite connection per thread, for the on-disk caches.

WAL mode lets readers and one writer work at once across threads and
processes (the notebook, the CLI and the dashboard may share a cache).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalConnection:
    """``get()`` returns this thread's connection to ``path``, opened on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection, if it has one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
