"""Labeling actions on a project, each committed at once and undoable.

Every action runs in one transaction that applies its changes and appends
one row to ``history`` holding the primitive changes (span inserted, deleted
or updated; sentence state changed). :meth:`Labels.undo` replays the
inverse of the newest not-yet-undone row, so repeated undo walks back one
action at a time, whatever kind each was.

Rules (where the method is silent, these are our choices):

* The person's layer never overlaps: a confirmed span that overlaps a
  *confirmed* span is refused (:class:`SpanError`); one that overlaps only
  *suggested* spans replaces them (the person's act beats the predictor).
* A span may not start or end with whitespace (a selection must not swallow
  it silently), and its label must be in the schema.
* Confirming a sentence makes its confirmed spans the whole answer: any
  suggestion still pending on it is rejected in the same action. A sentence
  confirmed with no spans is annotated (it says "no entities here").
* :meth:`Labels.apply_to_identical` adds *suggested* spans to
  unconfirmed pool sentences only; confirmed sentences are never changed
  behind the person's back, and no existing span is overwritten.

Several people (or tabs) may label one project at once. Every action can
name its :class:`Actor` (annotator and browser session), recorded in its
history row with the time and, for confirm and skip, the seconds spent on
the sentence (``lead_time``). Every change bumps the sentence's revision
(:meth:`Labels.revision`); an action given ``expect_rev`` is refused
with :class:`StaleError` when the sentence moved on since that revision, so
nobody's action lands on a view of the sentence that is no longer true.
``undo(actor=...)`` undoes that annotator's own newest action only, and
refuses when someone else has changed the sentence since.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import ProjectError
from ..data.sentence import Span

COLS = ("id", "sentence_id", "start", "end", "label", "text", "status", "created_at")


class SpanError(ProjectError, ValueError):
    """A labeling action that cannot be done (bad offsets, overlap, unknown label)."""


STALE_MESSAGE = "this sentence changed in another tab — reloaded"


class StaleError(SpanError):
    """The sentence changed (in another session) since the revision the action was made on."""

    def __init__(self, sentence_id: str, expected: int, actual: int):
        super().__init__(STALE_MESSAGE)
        self.sentence_id, self.expected, self.actual = sentence_id, expected, actual


@dataclass(frozen=True)
class Actor:
    """Who acts: an annotator's name and the session (browser tab) acting for them."""

    annotator: str
    session: str | None = None


@dataclass(frozen=True)
class Undone:
    """What :meth:`Labels.undo` reverted: the action's name, its
    sentence (None for actions over many) and its summary."""

    action: str
    sentence_id: str | None
    summary: dict = field(default_factory=dict)


def _row_span(row: dict) -> Span:
    return Span(row["start"], row["end"], row["label"], row["text"], row["status"])


def _overlaps(a: dict, start: int, end: int) -> bool:
    return a["start"] < end and start < a["end"]


class Labels:
    """The person's layer of a project (``project.labels``): spans,
    confirm / skip, and the undo history.

    ``db``: the project's :class:`~.db.Database`; ``sentences``: its
    :class:`~.sentences.SentenceStore` (texts by id); ``schema``: a
    callable giving the labels a span may carry now.
    """

    def __init__(self, db, sentences, schema):
        self._db = db
        self._sentences = sentences
        self._schema = schema  # a callable: the schema as saved now (types change while the app runs)

    # -- reading the person's layer ----------------------------------------
    def _span_rows(self, conn, sentence_id: str) -> list[dict]:
        cur = conn.execute(
            f"SELECT {', '.join(COLS)} FROM spans WHERE sentence_id = ? ORDER BY start, end", (sentence_id,)
        )
        return [dict(zip(COLS, r)) for r in cur]

    def spans(self, sentence_id: str, statuses: Iterable[str] = ("suggested", "confirmed")) -> list[Span]:
        """The person's spans on a pool sentence (never gold), by position."""
        wanted = set(statuses)
        return [_row_span(r) for r in self._span_rows(self._db.conn(), sentence_id) if r["status"] in wanted]

    def state(self, sentence_id: str) -> str | None:
        """``"confirmed"``, ``"skipped"`` or None."""
        row = self._db.conn().execute("SELECT state FROM sentence_state WHERE sentence_id = ?", (sentence_id,)).fetchone()
        return row[0] if row else None

    def with_suggestions(self) -> list[str]:
        """The sentences that have suggested spans (read through the span-status index)."""
        return [r[0] for r in self._db.conn().execute("SELECT DISTINCT sentence_id FROM spans WHERE status = 'suggested'")]

    def states(self) -> dict[str, str]:
        """Sentence id → ``"confirmed"`` / ``"skipped"`` for every sentence that has one."""
        return dict(self._db.conn().execute("SELECT sentence_id, state FROM sentence_state"))

    # -- primitive changes ---------------------------------------------------
    @staticmethod
    def _do(conn, op: list) -> None:
        kind = op[0]
        if kind == "ins":
            row = op[1]
            conn.execute(f"INSERT INTO spans ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                         [row[c] for c in COLS])
        elif kind == "del":
            conn.execute("DELETE FROM spans WHERE id = ?", (op[1]["id"],))
        elif kind == "upd":
            after = op[2]
            conn.execute("UPDATE spans SET label = ?, status = ? WHERE id = ?", (after["label"], after["status"], after["id"]))
        elif kind == "state":
            _, sid, _before, after = op
            if after is None:
                conn.execute("DELETE FROM sentence_state WHERE sentence_id = ?", (sid,))
            else:
                conn.execute("INSERT OR REPLACE INTO sentence_state VALUES (?, ?, ?)", (sid, after, time.time()))
        elif kind == "schema":  # the entity types as a whole (written by .types)
            from .types import write_schema

            write_schema(conn, op[2])
        elif kind == "gold_label":
            conn.execute("UPDATE gold_spans SET label = ? WHERE rowid = ?", (op[3], op[1]))
        elif kind == "gold_del":
            conn.execute("DELETE FROM gold_spans WHERE rowid = ?", (op[1],))
        elif kind == "gold_ins":
            conn.execute("INSERT INTO gold_spans (rowid, role, sentence_id, start, end, label, text)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", (op[1], *op[2]))
        elif kind == "pred_spans":
            conn.execute("UPDATE predictions SET spans = ? WHERE seq = ?", (op[3], op[1]))
        else:  # pragma: no cover - ops are written only by this module and .types
            raise ProjectError(f"unknown history op {kind!r}")

    @staticmethod
    def _inverse(op: list) -> list:
        kind = op[0]
        if kind == "ins":
            return ["del", op[1]]
        if kind == "del":
            return ["ins", op[1]]
        if kind == "upd":
            return ["upd", op[2], op[1]]
        if kind == "schema":
            return [kind, op[2], op[1]]
        if kind in ("gold_label", "pred_spans"):
            return [kind, op[1], op[3], op[2]]
        if kind == "gold_del":
            return ["gold_ins", op[1], op[2]]
        if kind == "gold_ins":
            return ["gold_del", op[1], op[2]]
        return ["state", op[1], op[3], op[2]]

    def record(self, conn, action: str, sentence_id: str | None, ops: list, summary: dict) -> None:
        """Apply ``ops`` in the open transaction ``conn`` and make them one
        undoable action (for the parts whose changes :meth:`undo` must walk
        back too: the entity-type edits of :mod:`.types`)."""
        self._record(conn, action, sentence_id, ops, summary)

    @staticmethod
    def _touched(ops: list) -> list[str]:
        """The sentences whose spans or state the ops change (entity-type
        edits change spans through the same ops; their schema, gold and
        prediction ops belong to no sentence's revision)."""
        sids = [op[1] if op[0] == "state" else op[1]["sentence_id"] for op in ops if op[0] in ("state", "ins", "del", "upd")]
        return list(dict.fromkeys(sids))

    @staticmethod
    def _rev_in(conn, sentence_id: str) -> int:
        row = conn.execute("SELECT rev FROM revisions WHERE sentence_id = ?", (sentence_id,)).fetchone()
        return int(row[0]) if row else 0

    def revision(self, sentence_id: str) -> int:
        """The sentence's revision: 0 until its spans or state first change,
        then a number that grows with every change (undo included)."""
        return self._rev_in(self._db.conn(), sentence_id)

    def last_change(self, sentence_id: str) -> dict | None:
        """Who last changed the sentence: ``{rev, annotator, session, updated_at}``, or None."""
        row = self._db.conn().execute(
            "SELECT rev, annotator, session, updated_at FROM revisions WHERE sentence_id = ?", (sentence_id,)).fetchone()
        return None if row is None else dict(zip(("rev", "annotator", "session", "updated_at"), row))

    def _bump(self, conn, sentence_ids: Iterable[str], actor: Actor | None) -> None:
        rev = self._db.next_counter(conn, "next_revision")
        who = (actor.annotator, actor.session) if actor else (None, None)
        conn.executemany("INSERT OR REPLACE INTO revisions VALUES (?, ?, ?, ?, ?)",
                         [(sid, rev, *who, time.time()) for sid in sentence_ids])

    @contextmanager
    def _tx(self, sentence_id: str | None = None, expect_rev: int | None = None) -> Iterator:
        """A write transaction; with ``expect_rev``, refused (nothing done) if
        the sentence is no longer at that revision."""
        with self._db.tx() as conn:
            if expect_rev is not None and sentence_id is not None:
                actual = self._rev_in(conn, sentence_id)
                if actual != int(expect_rev):
                    raise StaleError(sentence_id, int(expect_rev), actual)
            yield conn

    def _record(self, conn, action: str, sentence_id: str | None, ops: list, summary: dict,
                actor: Actor | None = None, lead_time: float | None = None) -> None:
        for op in ops:
            self._do(conn, op)
        if ops:
            conn.execute(
                "INSERT INTO history (action, sentence_id, ops, summary, created_at, annotator, session, lead_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (action, sentence_id, json.dumps(ops, ensure_ascii=False), json.dumps(summary, ensure_ascii=False),
                 time.time(), actor.annotator if actor else None, actor.session if actor else None,
                 None if lead_time is None else float(lead_time)),
            )
            self._bump(conn, self._touched(ops), actor)

    def _new_row(self, conn, sentence_id: str, start: int, end: int, label: str, text: str, status: str) -> dict:
        # Ids come from a counter in meta, never reused, so the history row knows them
        # and an undone deletion can put a span back under its own id. We hold the write lock.
        new_id = self._db.next_counter(conn, "next_span_id")
        return dict(id=new_id, sentence_id=sentence_id, start=start, end=end, label=label, text=text,
                    status=status, created_at=time.time())

    def _check(self, text: str, start, end, label: str, expected: str | None, known: list[str] | None = None) -> None:
        if any(not isinstance(v, int) or isinstance(v, bool) for v in (start, end)):
            raise SpanError(f"span offsets must be whole numbers, got {start!r}, {end!r}")
        if not 0 <= start < end <= len(text):
            raise SpanError(f"span [{start}, {end}) lies outside the sentence (length {len(text)})")
        known = self._schema().names if known is None else known
        if label not in known:
            raise SpanError(f"label {label!r} is not in the schema ({', '.join(known)})")
        piece = text[start:end]
        if expected is not None and expected != piece:
            raise SpanError(f"span [{start}, {end}) is {piece!r} in the sentence, not {expected!r}")
        if piece != piece.strip():
            raise SpanError(f"span [{start}, {end}) {piece!r} starts or ends with whitespace")

    # -- actions -------------------------------------------------------------
    def add_span(self, sentence_id: str, start: int, end: int, label: str, *, text: str | None = None,
                 actor: Actor | None = None, expect_rev: int | None = None) -> Span:
        """Label ``text[start:end]`` (code points) as ``label``, confirmed.

        ``text``, if given, must equal the sentence's text there. Suggested
        spans it overlaps are replaced; an overlapping confirmed span raises
        :class:`SpanError`. Adding a span that already exists is a no-op.
        ``actor`` is recorded; with ``expect_rev``, a sentence changed since
        that revision raises :class:`StaleError` (so do the other actions).
        """
        sent_text = self._sentences.text(sentence_id)
        self._check(sent_text, start, end, label, text)
        with self._tx(sentence_id, expect_rev) as conn:
            rows = self._span_rows(conn, sentence_id)
            clash = [r for r in rows if _overlaps(r, start, end)]
            same = [r for r in clash if r["status"] == "confirmed" and (r["start"], r["end"], r["label"]) == (start, end, label)]
            if same:
                return _row_span(same[0])
            hard = [r for r in clash if r["status"] == "confirmed"]
            if hard:
                listed = "; ".join(f"{r['text']!r} [{r['start']}, {r['end']}) {r['label']}" for r in hard)
                raise SpanError(f"[{start}, {end}) {sent_text[start:end]!r} overlaps {listed}; remove that span first")
            ops = [["del", r] for r in clash]
            row = self._new_row(conn, sentence_id, start, end, label, sent_text[start:end], "confirmed")
            ops.append(["ins", row])
            self._record(conn, "add_span", sentence_id, ops, {"span": [start, end, label], "replaced": len(clash)}, actor)
        return _row_span(row)

    def _find(self, conn, sentence_id: str, start: int, end: int, status: str | None = None) -> dict:
        for r in self._span_rows(conn, sentence_id):
            if (r["start"], r["end"]) == (start, end) and (status is None or r["status"] == status):
                return r
        what = f"{status} span" if status else "span"
        raise SpanError(f"sentence {sentence_id!r} has no {what} at [{start}, {end})")

    def remove_span(self, sentence_id: str, start: int, end: int, *, actor: Actor | None = None,
                    expect_rev: int | None = None) -> Span:
        """Delete the span (suggested or confirmed) at exactly ``[start, end)``."""
        with self._tx(sentence_id, expect_rev) as conn:
            row = self._find(conn, sentence_id, start, end)
            self._record(conn, "remove_span", sentence_id, [["del", row]], {"span": [start, end, row["label"]]}, actor)
        return _row_span(row)

    def set_label(self, sentence_id: str, start: int, end: int, label: str, *, actor: Actor | None = None,
                  expect_rev: int | None = None) -> Span:
        """Change a span's type; the span becomes confirmed (the person chose it)."""
        if label not in self._schema():
            raise SpanError(f"label {label!r} is not in the schema ({', '.join(self._schema().names)})")
        with self._tx(sentence_id, expect_rev) as conn:
            row = self._find(conn, sentence_id, start, end)
            after = dict(row, label=label, status="confirmed")
            self._record(conn, "set_label", sentence_id, [["upd", row, after]], {"span": [start, end, label]}, actor)
        return _row_span(after)

    def accept_suggestions(self, sentence_id: str, spans: Iterable[tuple[int, int]] | None = None, *,
                           actor: Actor | None = None, expect_rev: int | None = None) -> int:
        """Confirm the sentence's suggestions (all, or those at these
        ``(start, end)``); returns how many were confirmed."""
        wanted = None if spans is None else {tuple(s[:2]) for s in spans}
        with self._tx(sentence_id, expect_rev) as conn:
            rows = [r for r in self._span_rows(conn, sentence_id) if r["status"] == "suggested"]
            rows = [r for r in rows if wanted is None or (r["start"], r["end"]) in wanted]
            ops = [["upd", r, dict(r, status="confirmed")] for r in rows]
            self._record(conn, "accept_suggestions", sentence_id, ops, {"accepted": len(rows)}, actor)
        return len(rows)

    def reject_suggestion(self, sentence_id: str, start: int, end: int, *, actor: Actor | None = None,
                          expect_rev: int | None = None) -> Span:
        """Delete the suggestion at ``[start, end)``."""
        with self._tx(sentence_id, expect_rev) as conn:
            row = self._find(conn, sentence_id, start, end, "suggested")
            self._record(conn, "reject_suggestion", sentence_id, [["del", row]], {"span": [start, end, row["label"]]},
                         actor)
        return _row_span(row)

    def _replace_suggestions(self, conn, sentence_id: str, spans, status: str) -> tuple[list, list]:
        """Ops that drop the sentence's pending suggestions and add ``spans``
        with ``status``, longest first, leaving out those with labels outside
        the schema, whitespace edges, or overlapping a confirmed span or an
        earlier-kept one; and the confirmed plus added rows."""
        text = self._sentences.text(sentence_id)
        cands = [(s.start, s.end, s.label) if isinstance(s, Span) else tuple(s[:3]) for s in spans]
        rows = self._span_rows(conn, sentence_id)
        ops = [["del", r] for r in rows if r["status"] == "suggested"]
        taken = [r for r in rows if r["status"] == "confirmed"]
        for start, end, label in sorted(set(cands), key=lambda c: (c[0] - c[1], c[0])):
            try:
                self._check(text, start, end, label, None)
            except SpanError:
                continue
            if any(_overlaps(r, start, end) for r in taken):
                continue
            row = self._new_row(conn, sentence_id, start, end, label, text[start:end], status)
            taken.append(row)
            ops.append(["ins", row])
        return ops, taken

    def suggest(self, sentence_id: str, spans: Iterable[Span | tuple[int, int, str]], *,
                actor: Actor | None = None, expect_rev: int | None = None) -> list[Span]:
        """Replace the sentence's pending suggestions with ``spans`` (from a
        predictor). Spans with labels outside the schema, whitespace edges, or
        overlapping a confirmed span or an earlier-kept suggestion (longest
        first) are left out. Returns the suggestions stored."""
        self._sentences.text(sentence_id)  # an unknown sentence is refused before anything else
        with self._tx(sentence_id, expect_rev) as conn:
            ops, _ = self._replace_suggestions(conn, sentence_id, spans, "suggested")
            kept = [_row_span(op[1]) for op in ops if op[0] == "ins"]
            self._record(conn, "suggest", sentence_id, ops, {"suggested": len(kept)}, actor)
        return sorted(kept, key=lambda s: (s.start, s.end))

    def confirm(self, sentence_id: str, *, actor: Actor | None = None, expect_rev: int | None = None,
                lead_time: float | None = None) -> int:
        """Mark the sentence annotated (even with no spans); pending
        suggestions on it are rejected. Returns its number of confirmed spans.
        ``lead_time``: the seconds the person spent on it, recorded with the
        action; so are the spans confirmed (their answer, as it was then)."""
        self._sentences.text(sentence_id)
        with self._tx(sentence_id, expect_rev) as conn:
            rows = self._span_rows(conn, sentence_id)
            before = self._state_in(conn, sentence_id)
            ops = [["del", r] for r in rows if r["status"] == "suggested"]
            if before != "confirmed":
                ops.append(["state", sentence_id, before, "confirmed"])
            kept = [[r["start"], r["end"], r["label"]] for r in rows if r["status"] == "confirmed"]
            self._record(conn, "confirm", sentence_id, ops,
                         {"spans": len(kept), "rejected": len(ops) - (before != "confirmed"), "answer": kept},
                         actor, lead_time)
        return len(kept)

    def accept_prediction(self, sentence_id: str, spans: Iterable[Span | tuple[int, int, str]], *,
                          actor: Actor | None = None, expect_rev: int | None = None) -> int:
        """A prediction becomes the person's label, in one undoable action:
        its spans are added as confirmed (pending suggestions go; spans with
        labels outside the schema, whitespace edges, or overlapping a confirmed
        span or a longer predicted one are left out) and the sentence is
        confirmed. Returns the number of confirmed spans it ends with."""
        self._sentences.text(sentence_id)  # an unknown sentence is refused before anything else
        with self._tx(sentence_id, expect_rev) as conn:
            ops, taken = self._replace_suggestions(conn, sentence_id, spans, "confirmed")
            added = sum(op[0] == "ins" for op in ops)
            before = self._state_in(conn, sentence_id)
            if before != "confirmed":
                ops.append(["state", sentence_id, before, "confirmed"])
            answer = [[r["start"], r["end"], r["label"]] for r in taken]
            self._record(conn, "accept_prediction", sentence_id, ops,
                         {"accepted": added, "spans": len(taken), "answer": answer}, actor)
        return len(taken)

    def skip(self, sentence_id: str, *, actor: Actor | None = None, expect_rev: int | None = None,
             lead_time: float | None = None) -> bool:
        """Put the sentence aside (it goes to the end of the queue). A
        confirmed sentence stays confirmed; returns whether anything changed."""
        self._sentences.text(sentence_id)
        with self._tx(sentence_id, expect_rev) as conn:
            before = self._state_in(conn, sentence_id)
            if before is not None:
                return False
            self._record(conn, "skip", sentence_id, [["state", sentence_id, None, "skipped"]], {}, actor, lead_time)
        return True

    @staticmethod
    def _state_in(conn, sentence_id: str) -> str | None:
        row = conn.execute("SELECT state FROM sentence_state WHERE sentence_id = ?", (sentence_id,)).fetchone()
        return row[0] if row else None

    def apply_to_identical(self, text: str, label: str, *, actor: Actor | None = None) -> int:
        """Suggest ``label`` for every whole-word occurrence of ``text`` in
        unconfirmed pool sentences that overlaps no existing span. Returns
        the number of suggestions added (undone together)."""
        if not text or text != text.strip():
            raise SpanError(f"cannot apply to {text!r}: empty or with whitespace at its edges")
        if label not in self._schema():
            raise SpanError(f"label {label!r} is not in the schema ({', '.join(self._schema().names)})")
        left = r"(?<!\w)" if re.match(r"\w", text[0]) else ""
        right = r"(?!\w)" if re.match(r"\w", text[-1]) else ""
        pattern = re.compile(left + re.escape(text) + right)
        with self._db.tx() as conn:
            confirmed = {r[0] for r in conn.execute("SELECT sentence_id FROM sentence_state WHERE state = 'confirmed'")}
            like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            hits = conn.execute(
                "SELECT id, text FROM sentences WHERE role = 'pool' AND text LIKE ? ESCAPE '\\' ORDER BY pos",
                (f"%{like}%",),
            ).fetchall()
            ops: list = []
            for sid, sent_text in hits:
                if sid in confirmed:
                    continue
                rows = self._span_rows(conn, sid)
                for m in pattern.finditer(sent_text):
                    if any(_overlaps(r, m.start(), m.end()) for r in rows):
                        continue
                    row = self._new_row(conn, sid, m.start(), m.end(), label, text, "suggested")
                    rows.append(row)
                    ops.append(["ins", row])
            self._record(conn, "apply_to_identical", None, ops, {"text": text, "label": label, "added": len(ops)},
                         actor)
        return len(ops)

    def undo(self, *, actor: Actor | None = None) -> Undone | None:
        """Revert the newest labeling action not yet undone; None if there is none.

        With ``actor``: that annotator's own newest action (nobody else's).
        It is refused (:class:`SpanError`) if someone else has changed one
        of its sentences since, because undoing it would overwrite their work.
        """
        with self._db.tx() as conn:
            sql = "SELECT seq, action, sentence_id, ops, summary FROM history WHERE undone = 0"
            args: tuple = ()
            if actor is not None:
                sql, args = sql + " AND annotator = ?", (actor.annotator,)
            row = conn.execute(sql + " ORDER BY seq DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            seq, action, sid, ops, summary = row
            ops = json.loads(ops)
            if actor is not None:
                touched = set(self._touched(ops))
                later = conn.execute(
                    "SELECT annotator, sentence_id, ops FROM history WHERE seq > ? AND undone = 0"
                    " AND (annotator IS NULL OR annotator != ?) ORDER BY seq", (seq, actor.annotator))
                for who, other_sid, other_ops in later:
                    hit = {other_sid} if other_sid is not None else set(self._touched(json.loads(other_ops)))
                    if hit & touched:
                        raise SpanError(f"your last action ({action.replace('_', ' ')} on {sorted(hit & touched)[0]}) "
                                        f"was followed by {who or 'someone'}'s change to that sentence; "
                                        "undoing it would overwrite theirs")
            for op in reversed(ops):
                self._do(conn, self._inverse(op))
            conn.execute("UPDATE history SET undone = 1 WHERE seq = ?", (seq,))
            self._bump(conn, self._touched(ops), actor)
        return Undone(action, sid, json.loads(summary))

    HISTORY_COLS = ("seq", "action", "sentence_id", "summary", "created_at", "undone", "annotator", "session", "lead_time")

    def history(self, limit: int | None = 50, *, action: str | None = None, annotator: str | None = None) -> list[dict]:
        """The newest actions first (all if ``limit`` is None), optionally of
        one kind or one annotator: ``{seq, action, sentence_id, summary,
        created_at, undone, annotator, session, lead_time}``."""
        where, args = [], []
        if action is not None:
            where.append("action = ?")
            args.append(action)
        if annotator is not None:
            where.append("annotator = ?")
            args.append(annotator)
        sql = f"SELECT {', '.join(self.HISTORY_COLS)} FROM history"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        sql += " ORDER BY seq DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        out = []
        for row in self._db.conn().execute(sql, args):
            rec = dict(zip(self.HISTORY_COLS, row))
            rec["summary"], rec["undone"] = json.loads(rec["summary"]), bool(rec["undone"])
            out.append(rec)
        return out

    def last_action(self) -> dict | None:
        """The action :meth:`undo` would revert next (as in :meth:`history`), or None."""
        row = self._db.conn().execute(
            "SELECT seq, action, sentence_id, summary, created_at FROM history WHERE undone = 0 ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        s, a, i, m, t = row
        return dict(seq=s, action=a, sentence_id=i, summary=json.loads(m), created_at=t, undone=False)

    def check_spans(self, labels: dict[str, list[tuple[int, int, str]]], *, also: Iterable[str] = ()) -> None:
        """Raise :class:`SpanError` for the first span of ``labels`` (sentence
        id → ``(start, end, label)``) that :meth:`replace_confirmed` would
        refuse; ``also``: labels to accept besides the schema's (about to be added)."""
        texts = self._sentences.texts()
        known = [*self._schema().names, *also]
        for sid, spans in labels.items():
            text = texts[sid]
            ordered = sorted(spans)
            for (a, b, label), nxt in zip(ordered, ordered[1:] + [None]):
                try:
                    self._check(text, a, b, label, None, known)
                except SpanError as exc:
                    raise SpanError(f"sentence {sid!r}: {exc}") from None
                if nxt is not None and nxt[0] < b:
                    raise SpanError(f"sentence {sid!r}: spans {text[a:b]!r} and {text[nxt[0]:nxt[1]]!r} overlap; "
                                    "a person's labels cannot overlap")

    def replace_confirmed(self, labels: dict[str, list[tuple[int, int, str]]], *, action: str, summary: dict) -> int:
        """Make each sentence of ``labels`` confirmed with exactly these spans
        (``(start, end, label)``, checked: inside the text, no whitespace at
        an edge, no overlap, a label of the schema), replacing its spans;
        one undoable action. Nothing is written if any span is bad. Returns
        how many sentences were confirmed before with other spans."""
        texts = self._sentences.texts()
        self.check_spans(labels)
        replaced = 0
        with self._db.tx() as conn:
            ops: list = []
            for sid, spans in labels.items():
                rows = self._span_rows(conn, sid)
                before = self._state_in(conn, sid)
                old = {(r["start"], r["end"], r["label"]) for r in rows if r["status"] == "confirmed"}
                if before == "confirmed" and old == set(spans) and all(r["status"] == "confirmed" for r in rows):
                    continue  # already exactly this
                replaced += before == "confirmed" and old != set(spans)
                ops += [["del", r] for r in rows]
                ops += [["ins", self._new_row(conn, sid, a, b, label, texts[sid][a:b], "confirmed")]
                        for a, b, label in sorted(set(spans))]
                if before != "confirmed":
                    ops.append(["state", sid, before, "confirmed"])
            self._record(conn, action, None, ops, summary)
        return replaced
