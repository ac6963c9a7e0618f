"""Background jobs: long work in a thread, with progress and partial results.

A :class:`Job` runs ``fn(job)`` in a daemon thread. The function reports
through the job it is handed: ``job.progress(done, total, message)``,
``job.add_result(row)`` as each result finishes (results are visible at
once, before the job ends), and checks ``job.cancelled`` to stop early.
A :class:`JobRegistry` holds jobs by key, so asking for the same work twice
(a page rerun, a second browser tab) returns the running job instead of
starting another. Plain threads: the work is numpy/faiss/torch code that
releases the GIL, or waits on the network.

The long tasks the dashboard runs as jobs are in :mod:`.project.tasks`.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

Progress = Callable[[int, int], None]
"""``progress(done, total)``: how far a long computation is."""
StepProgress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: the same, saying what runs now."""

PENDING, RUNNING, DONE, FAILED, CANCELLED = "pending", "running", "done", "failed", "cancelled"


def time_left(done: int, total: int, seconds: float, *, since: int = 0) -> str:
    """``", ~12 s left"`` from the rate since ``since`` items (done before the
    clock started, e.g. read from a cache); ``""`` until there is a rate."""
    if done <= since or seconds <= 0 or done >= total:
        return ""
    return f", ~{(total - done) * seconds / (done - since):.0f} s left"


class JobCancelled(Exception):
    """Raised inside a job's work (by :meth:`Job.check`) to stop it early."""


class Job:
    """One piece of background work. Thread-safe to read from anywhere."""

    def __init__(self, fn: Callable[[Job], Any], *, name: str = "job"):
        self.name = name
        self._fn = fn
        self._lock = threading.Lock()
        self._results: list = []
        self._done = 0
        self._total = 0
        self._message = ""
        self._state = PENDING
        self._error: str | None = None
        self._value: Any = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"allabel-{name}", daemon=True)

    # -- called by the work ---------------------------------------------------
    def progress(self, done: int, total: int, message: str = "") -> None:
        with self._lock:
            self._done, self._total = int(done), int(total)
            if message:
                self._message = message

    def add_result(self, row: Any) -> None:
        with self._lock:
            self._results.append(row)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the owner asked the job to stop
        (for work that only offers a callback, such as a progress hook)."""
        if self._cancel.is_set():
            raise JobCancelled(self.name)

    # -- called by the owner -------------------------------------------------
    def start(self) -> Job:
        with self._lock:
            if self._state != PENDING:
                return self
            self._state = RUNNING
            self.started_at = time.time()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop; it stops at its next check of ``cancelled``."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; True if it has."""
        return self._finished.wait(timeout)

    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state in (PENDING, RUNNING)

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def value(self) -> Any:
        """What ``fn`` returned (once done)."""
        return self._value

    @property
    def results(self) -> list:
        """A copy of the results so far, in the order they arrived."""
        with self._lock:
            return list(self._results)

    def status(self) -> dict:
        """A snapshot: ``state, done, total, fraction, message, error, results, seconds``."""
        with self._lock:
            end = self.finished_at or time.time()
            return {
                "state": self._state,
                "done": self._done,
                "total": self._total,
                "fraction": (self._done / self._total) if self._total else (1.0 if self._state == DONE else 0.0),
                "message": self._message,
                "error": self._error,
                "results": len(self._results),
                "seconds": (end - self.started_at) if self.started_at else 0.0,
            }

    def _run(self) -> None:
        try:
            value = self._fn(self)
            with self._lock:
                self._value = value
                self._state = CANCELLED if self._cancel.is_set() else DONE
        except JobCancelled:
            with self._lock:
                self._state = CANCELLED
        except Exception as exc:  # the job's owner shows it; the thread must not die silently
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._state = FAILED
                self._traceback = traceback.format_exc()
        finally:
            self.finished_at = time.time()
            self._finished.set()


class JobRegistry:
    """Jobs by key; at most one running job per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def submit(self, key: str, fn: Callable[[Job], Any], *, restart: bool = False) -> Job:
        """Start ``fn`` under ``key`` unless a job with that key is running
        (then return it). A finished job is replaced; ``restart=True`` also
        cancels a running one and starts afresh."""
        with self._lock:
            old = self._jobs.get(key)
            if old is not None and old.running and not restart:
                return old
            if old is not None and old.running:
                old.cancel()
            job = Job(fn, name=key)
            self._jobs[key] = job
        return job.start()

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: str) -> None:
        job = self.get(key)
        if job is not None:
            job.cancel()

