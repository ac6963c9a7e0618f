"""Selections (which stage picked each sentence, and why) and the labeling
queue built from them: stage order, then pick order; confirmed sentences
leave the queue, skipped ones move to its end. The current position is
stored so a reopened project resumes where the person left off."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence

from ..errors import ConfigError, ProjectError
from .db import dumps
from ..selection.stages import MANUAL, STAGE_NAMES, stage_name
from .settings import scrub


class Selections:
    """Which sentences were picked, by which stage and why, and the labeling
    queue built from them (``project.selections``).

    ``db``: the project's :class:`~.db.Database`; ``sentences``: its
    :class:`~.sentences.SentenceStore`; ``stage_order()``: the project's
    ``stage_order`` setting now; ``states()``: sentence id -> confirmed /
    skipped (:meth:`~.labels.Labels.states`); ``secrets``: what stored
    reasons are scrubbed of (:class:`~.settings.Secrets`).
    """

    def __init__(self, db, sentences, stage_order, states, secrets):
        self._db = db
        self._sentences = sentences
        self._stage_order = stage_order
        self._states = states
        self._secrets = secrets

    def _pick(self, pick, stage: str | None, ids: Sequence[str]) -> tuple[str, str, float | None, dict]:
        if isinstance(pick, Mapping):
            get = pick.get
        elif isinstance(pick, (str, int)) or hasattr(pick, "__index__"):
            get = {"id" if isinstance(pick, str) else "index": pick}.get
        else:
            def get(key, default=None):
                return getattr(pick, key, default)
        sid = get("id", None) or get("sentence_id", None)
        if sid is None:
            index = get("index", None)
            if index is None or not 0 <= int(index) < len(ids):
                raise ProjectError(f"selection {pick!r} names no pool sentence (index out of range or missing)")
            sid = ids[int(index)]
        if str(sid) not in self._sentences.texts():
            raise ProjectError(f"selection names no pool sentence: {sid!r}")
        stg = get("stage", None) or stage
        if not stg:
            raise ConfigError(f"selection {pick!r} has no stage")
        score = get("score", None)
        return str(sid), stage_name(stg), None if score is None else float(score), dict(get("reason", None) or {})

    def record(self, picks: Iterable, stage: str | None = None) -> int:
        """Record picks: pool indices, ids, or mappings/objects with ``id`` or
        ``index``, ``score``, ``reason`` (dict) and optionally ``stage``.
        A sentence is selected once; picks already selected are ignored.
        Returns how many were new."""
        ids = self._sentences.ids()  # once: a copy of the pool's ids per pick would be quadratic
        rows = [self._pick(p, stage, ids) for p in picks]
        secrets = self._secrets.values()
        now = time.time()
        with self._db.tx() as conn:
            run = self._db.next_counter(conn, "next_selection_run")
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO selections (sentence_id, stage, score, reason, run, created_at) VALUES (?,?,?,?,?,?)",
                [(sid, stg, score, dumps(scrub(reason, secrets)), run, now) for sid, stg, score, reason in rows],
            )
            return conn.total_changes - before

    def enqueue(self, ids: Iterable, stage: str = MANUAL) -> int:
        """Queue sentences by hand (e.g. from a lasso on the map)."""
        return self.record(ids, stage)

    def clear(self, stage: str | None = None) -> int:
        """Forget selections (of one stage, or all); labels are kept."""
        with self._db.tx() as conn:
            if stage is None:
                return conn.execute("DELETE FROM selections").rowcount
            return conn.execute("DELETE FROM selections WHERE stage = ?", (stage_name(stage),)).rowcount

    def table(self):
        """A DataFrame, one row per selected sentence in selection order:
        sentence_id, index (pool position), stage, score, reason (dict), run,
        created_at, state (confirmed / skipped / None), text."""
        import numpy as np
        import pandas as pd

        index = {sid: i for i, sid in enumerate(self._sentences.ids())}
        df = pd.read_sql_query(
            "SELECT s.sentence_id, s.stage, s.score, s.reason, s.run, s.created_at, st.state FROM selections s"
            " LEFT JOIN sentence_state st ON st.sentence_id = s.sentence_id ORDER BY s.seq", self._db.conn())
        # Looked up per selected row: Series.map(dict) would hash the whole pool's ids first.
        texts = self._sentences.texts()
        df.insert(1, "index", np.array([index[s] for s in df["sentence_id"]], dtype=np.int64))
        df["reason"] = df["reason"].map(json.loads)
        df["text"] = [texts.get(s) for s in df["sentence_id"]]
        return df

    def get(self, sentence_id: str) -> dict | None:
        """How one sentence was selected: ``{stage, score, reason, run}``, or None."""
        row = self._db.conn().execute(
            "SELECT stage, score, reason, run FROM selections WHERE sentence_id = ?", (sentence_id,)).fetchone()
        return None if row is None else {"stage": row[0], "score": row[1], "reason": json.loads(row[2]), "run": row[3]}

    def queue(self, include_done: bool = False) -> list[str]:
        """Selected sentence ids in stage order (``settings["stage_order"]``,
        D→S→U by default, then other stages, then manual), each stage in
        the order picked. Without ``include_done``, confirmed sentences are
        left out and skipped ones move to the end."""
        order = list(self._stage_order() or STAGE_NAMES)
        rows = self._db.conn().execute(
            "SELECT s.sentence_id, s.stage, st.state FROM selections s"
            " LEFT JOIN sentence_state st ON st.sentence_id = s.sentence_id ORDER BY s.seq").fetchall()

        def rank(stage: str) -> float:
            return order.index(stage) if stage in order else (len(order) + 1 if stage == MANUAL else len(order))

        rows.sort(key=lambda r: rank(r[1]))  # stable: selection order within a stage
        if include_done:
            return [r[0] for r in rows]
        return [r[0] for r in rows if r[2] is None] + [r[0] for r in rows if r[2] == "skipped"]

    def current(self) -> str | None:
        """The sentence open in the labeling panel, as last saved."""
        row = self._db.conn().execute("SELECT value FROM meta WHERE key = 'current_id'").fetchone()
        return json.loads(row[0]) if row else None

    def set_current(self, sentence_id: str | None) -> None:
        if sentence_id is not None:
            self._sentences.text(sentence_id)
        with self._db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('current_id', ?)", (dumps(sentence_id),))

    def next_id(self, after: str | None = None, *, order: Sequence[str] | None = None) -> str | None:
        """The next sentence to label: the first pending (not confirmed, not
        skipped) one after ``after`` in queue order (or in ``order``, ids to
        walk instead, e.g. :func:`allabel_core.project.rest.least_certain_first`),
        wrapping around; then skipped ones; None when nothing is left."""
        states = self._states()
        full = self.queue(include_done=True) if order is None else list(order)
        pending = self.queue() if order is None else [s for s in full if states.get(s) != "confirmed"]
        pos = full.index(after) if after in full else -1
        rotated = full[pos + 1:] + full[: pos + 1]
        pending = set(pending)
        fresh = (s for s in rotated if s in pending and s not in states and s != after)
        skipped = (s for s in rotated if states.get(s) == "skipped" and s != after)
        found = next(fresh, None)
        return found if found is not None else next(skipped, None)

    def previous_id(self, before: str | None, *, order: Sequence[str] | None = None) -> str | None:
        """The sentence before ``before`` in queue order or ``order`` (done ones included)."""
        full = self.queue(include_done=True) if order is None else list(order)
        if before not in full:
            return full[-1] if full else None
        i = full.index(before)
        return full[i - 1] if i > 0 else None

