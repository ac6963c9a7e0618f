"""The SQLite layer under a project: tables, connections and transactions.

A project is one SQLite file in WAL mode. Each thread gets its own
connection (Streamlit runs every session in its own thread); writers take
``BEGIN IMMEDIATE`` so two threads labeling at once queue up behind the busy
timeout instead of failing. ``synchronous=FULL``: a committed action survives
the process being killed and the machine losing power.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ProjectError
from .settings import scrub

FORMAT_VERSION = 1
SUFFIX = ".allabel"
BUSY_TIMEOUT_S = 30

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE labels (
    pos INTEGER NOT NULL, name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '', color TEXT NOT NULL);
CREATE TABLE sentences (
    role TEXT NOT NULL CHECK (role IN ('pool', 'target')),
    pos INTEGER NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (role, id), UNIQUE (role, pos));
-- Gold spans from the file, kept apart from the person's labels.
CREATE TABLE gold_spans (
    role TEXT NOT NULL, sentence_id TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL,
    label TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX gold_by_sentence ON gold_spans (role, sentence_id);
-- The person's layer (pool sentences only): suggestions and confirmed spans.
CREATE TABLE spans (
    id INTEGER PRIMARY KEY, sentence_id TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL,
    label TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('suggested', 'confirmed')),
    created_at REAL NOT NULL);
CREATE INDEX spans_by_sentence ON spans (sentence_id);
CREATE TABLE sentence_state (
    sentence_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('confirmed', 'skipped')),
    updated_at REAL NOT NULL);
-- Who did each labeling action, from which browser session, and (for a
-- confirm or skip) the seconds spent on the sentence, as Label Studio's lead_time.
CREATE TABLE history (
    seq INTEGER PRIMARY KEY, action TEXT NOT NULL, sentence_id TEXT,
    ops TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL, undone INTEGER NOT NULL DEFAULT 0,
    annotator TEXT, session TEXT, lead_time REAL);
-- A sentence's revision: bumped by every change to its spans or state
-- (undo included), so a session can tell its view of the sentence is stale.
CREATE TABLE revisions (
    sentence_id TEXT PRIMARY KEY, rev INTEGER NOT NULL,
    annotator TEXT, session TEXT, updated_at REAL NOT NULL);
CREATE TABLE selections (
    seq INTEGER PRIMARY KEY, sentence_id TEXT NOT NULL UNIQUE,
    stage TEXT NOT NULL, score REAL, reason TEXT NOT NULL DEFAULT '{}',
    run INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE predictions (
    seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, role TEXT NOT NULL,
    sentence_id TEXT NOT NULL, predictor TEXT NOT NULL, spans TEXT NOT NULL,
    uncertainty REAL, uncertainty_kind TEXT, demonstrations TEXT NOT NULL,
    similarities TEXT NOT NULL, error TEXT, details TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX predictions_by_sentence ON predictions (role, sentence_id, predictor, run);
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY, created_at REAL NOT NULL, model TEXT NOT NULL,
    base_url TEXT NOT NULL, purpose TEXT NOT NULL, calls INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost REAL, cached INTEGER NOT NULL, details TEXT NOT NULL);
CREATE TABLE curve (
    seq INTEGER PRIMARY KEY, run TEXT NOT NULL, strategy TEXT, budget REAL,
    seed INTEGER, f1 REAL, precision REAL, recall REAL,
    data TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE projection (
    pos INTEGER PRIMARY KEY, sentence_id TEXT NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL);
"""


# The indexes behind the queries the dashboard runs on every rerun (counts for
# the progress bar, a type's usage, the scores against gold), so a project of
# 100k sentences answers them without reading every row. In DDL for new
# files; :func:`migrate` adds the missing ones to older files.
INDEXES = (
    ("state_by_state", "CREATE INDEX state_by_state ON sentence_state (state)"),
    ("spans_by_status", "CREATE INDEX spans_by_status ON spans (status, sentence_id)"),
    ("spans_by_label", "CREATE INDEX spans_by_label ON spans (label, status)"),
    ("gold_by_label", "CREATE INDEX gold_by_label ON gold_spans (label)"),
    ("history_by_action", "CREATE INDEX history_by_action ON history (action)"),
)
DDL += "".join(f"{sql};\n" for _, sql in INDEXES)


# Added to files written before these columns and tables existed (additive only:
# every older row keeps its meaning; who made it is unknown, so NULL).
MIGRATIONS = (
    ("history", "annotator", "ALTER TABLE history ADD COLUMN annotator TEXT"),
    ("history", "session", "ALTER TABLE history ADD COLUMN session TEXT"),
    ("history", "lead_time", "ALTER TABLE history ADD COLUMN lead_time REAL"),
    ("revisions", None, "CREATE TABLE revisions (sentence_id TEXT PRIMARY KEY, rev INTEGER NOT NULL,"
                        " annotator TEXT, session TEXT, updated_at REAL NOT NULL)"),
)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring an older project file up to the current tables (idempotent)."""
    def missing(table: str, column: str | None) -> bool:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        return not cols if column is None else bool(cols) and column not in cols

    def indexes() -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}

    todo = [sql for table, column, sql in MIGRATIONS if missing(table, column)]
    todo += [sql for name, sql in INDEXES if name not in indexes()]
    if not todo:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, sql in MIGRATIONS:
            if missing(table, column):  # again, under the write lock: another process may have done it
                conn.execute(sql)
        have = indexes()
        for name, sql in INDEXES:
            if name not in have:
                conn.execute(sql)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def dumps(obj) -> str:
    """Canonical JSON for storage (non-JSON values become strings)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL, FULL sync and a busy timeout."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{path}: not an ALLabel project ({exc})") from None
    return conn


class _Holder:
    """A thread's connection; tracked weakly, so when the thread ends and its
    thread-local goes, the connection is closed (sqlite3 connections cannot
    be weakly referenced themselves)."""

    __slots__ = ("conn", "generation", "__weakref__")

    def __init__(self, conn: sqlite3.Connection, generation: int):
        self.conn, self.generation = conn, generation


class Database:
    """Per-thread connections to one project file, and transactions on them."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet = weakref.WeakSet()
        self._generation = 0

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        holder = getattr(self._local, "holder", None)
        if holder is None or holder.generation != self._generation:
            holder = _Holder(connect(self.path), self._generation)
            with self._lock:
                self._holders.add(holder)
            self._local.holder = holder
        return holder.conn

    @staticmethod
    def next_counter(conn: sqlite3.Connection, name: str) -> int:
        """Take the next value of the counter ``name`` kept in ``meta``
        (``next_span_id``, ``next_prediction_run``, ``next_selection_run``, ``next_revision``),
        inside the caller's write transaction. Values are never reused, so
        history rows can name them and undo can restore them."""
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        value = int(row[0]) if row else 1
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value + 1)))
        return value

    def open_connections(self) -> int:
        """How many threads hold a connection now (for tests and diagnostics)."""
        return len(self._holders)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on exit (durable when it returns)."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened, in any thread."""
        with self._lock:
            holders, self._holders = list(self._holders), weakref.WeakSet()
            self._generation += 1
        for holder in holders:
            holder.conn.close()


# Sentences written per executemany while a project is created: enough to
# keep SQLite busy, few enough that a batch's rows are a few MB at most.
BUILD_BATCH = 2000


def build(tmp: Path, corpora, name: str, finish, *, progress=None, batch: int | None = None) -> None:
    """Write a complete project into ``tmp`` (one file, rollback journal, one
    transaction): the sentences of ``corpora`` (``[(role, sentences)]``,
    each a :class:`~allabel_core.data.corpus.Corpus` or a
    :class:`~allabel_core.data.corpus.CorpusStream` read once) go in
    ``batch`` at a time, so only one batch of rows is held; then
    ``finish(pool_size, labels)`` (the labels in order of first appearance)
    returns the schema and the settings, written last. Whatever raises
    (a bad line in a stream, ``finish``) leaves ``tmp`` to the caller to
    delete. ``progress(done, total)`` after each batch: lines of the files
    read, or sentences for a corpus already in memory. ``batch``: default :data:`BUILD_BATCH`."""
    batch = batch or BUILD_BATCH
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(DDL)
        conn.execute("BEGIN")
        now = time.time()
        labels: dict[str, None] = {}
        sizes = [getattr(c, "lines", None) or len(c) for _, c in corpora]
        total = sum(sizes)
        done_before = 0
        span_id, pool_size = 0, 0
        for (role, corpus), size in zip(corpora, sizes):
            sentences, gold, spans, states = [], [], [], []

            def flush() -> None:
                conn.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?, ?)", sentences)
                conn.executemany("INSERT INTO gold_spans VALUES (?, ?, ?, ?, ?, ?)", gold)
                conn.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?)", spans)
                conn.executemany("INSERT INTO sentence_state VALUES (?, 'confirmed', ?)", states)
                for rows in (sentences, gold, spans, states):
                    rows.clear()
                if progress is not None:
                    where = getattr(corpus, "line", None)
                    progress(done_before + (pos + 1 if where is None else where), total)

            pos = -1
            for pos, s in enumerate(corpus):
                sentences.append((role, pos, s.id, s.text, dumps(scrub(s.meta))))
                for sp in s.spans:
                    labels.setdefault(sp.label)
                    if sp.status == "gold":
                        gold.append((role, s.id, sp.start, sp.end, sp.label, sp.text))
                    elif role == "pool":
                        span_id += 1
                        spans.append((span_id, s.id, sp.start, sp.end, sp.label, sp.text, sp.status, now))
                if role == "pool" and any(sp.status == "confirmed" for sp in s.spans):
                    states.append((s.id, now))
                if len(sentences) >= batch:
                    flush()
            flush()
            done_before += size
            if role == "pool":
                pool_size = pos + 1
        schema, settings = finish(pool_size, list(labels))
        meta = {"format_version": FORMAT_VERSION, "name": name, "created_at": now, "current_id": None}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, dumps(v)) for k, v in meta.items()])
        conn.executemany("INSERT INTO settings VALUES (?, ?)", [(k, dumps(v)) for k, v in settings.items()])
        conn.executemany("INSERT INTO labels VALUES (?, ?, ?, ?)",
                         [(i, t.name, t.description, t.color) for i, t in enumerate(schema.types)])
        conn.execute("INSERT INTO meta VALUES ('next_span_id', ?)", (str(span_id + 1),))
        conn.execute("COMMIT")
    finally:
        conn.close()
