"""A project's sentences (pool and target) read from its file, with either
the gold layer or the person's layer of spans. Sentences never change after
creation, so their texts and tokenisations are read once and kept."""

from __future__ import annotations

import threading
from pathlib import Path

from ..data.corpus import Corpus
from ..data.sentence import Sentence, Span
from ..errors import ProjectError


class SentenceStore:
    """The sentences of one project file (``db``: its :class:`~.db.Database`)."""

    def __init__(self, db, source: Path):
        self._db = db
        self._source = str(source)
        self._lock = threading.Lock()
        self._texts: dict[str, str] | None = None
        self._base: dict[str, Sentence] = {}

    def texts(self) -> dict[str, str]:
        """Pool sentence id -> text, in file order."""
        if self._texts is None:
            rows = self._db.conn().execute("SELECT id, text FROM sentences WHERE role = 'pool' ORDER BY pos")
            self._texts = dict(rows.fetchall())
        return self._texts

    def text(self, sentence_id: str) -> str:
        """One pool sentence's text; ``ProjectError`` if there is none with that id."""
        try:
            return self.texts()[sentence_id]
        except KeyError:
            raise ProjectError(f"no pool sentence with id {sentence_id!r}") from None

    def ids(self) -> list[str]:
        """Pool sentence ids in file order (index i is pool position i)."""
        return list(self.texts())

    def bare(self, sentence_id: str) -> Sentence:
        """A pool sentence, tokenised, without spans."""
        s = self._base.get(sentence_id)
        if s is None:
            s = Sentence.from_text(sentence_id, self.text(sentence_id))
            with self._lock:
                self._base[sentence_id] = s
        return s

    def corpus(self, role: str, layer: str, statuses: tuple[str, ...], state: str | None = None) -> Corpus:
        """The ``role`` sentences (``"pool"`` / ``"target"``) with the spans
        of ``layer`` (``"gold"`` or ``"person"``) whose status is in
        ``statuses``; ``state``: only the sentences in that state
        (``"confirmed"``), chosen in SQL, so a few confirmed sentences of a
        100k pool are read without the rest."""
        conn = self._db.conn()
        table = "gold_spans" if layer == "gold" else "spans"
        status_sql = "'gold'" if layer == "gold" else "t.status"
        of_role = " AND t.role = ?" if layer == "gold" else ""
        cols = f"t.sentence_id, t.start, t.end, t.label, t.text, {status_sql}"
        if state is None:
            span_rows = conn.execute(f"SELECT {cols} FROM {table} t WHERE 1 = 1{of_role}",
                                     [role] if of_role else [])
            sentence_rows = conn.execute("SELECT id, text FROM sentences WHERE role = ? ORDER BY pos", (role,))
        else:  # from the few sentences in that state to their spans and texts, through the indexes
            span_rows = conn.execute(
                f"SELECT {cols} FROM sentence_state st JOIN {table} t ON t.sentence_id = st.sentence_id{of_role}"
                " WHERE st.state = ?", ([role] if of_role else []) + [state])
            sentence_rows = conn.execute(
                "SELECT s.id, s.text FROM sentence_state st JOIN sentences s ON s.role = ? AND s.id = st.sentence_id"
                " WHERE st.state = ? ORDER BY s.pos", (role, state))
        spans: dict[str, list[Span]] = {}
        for sid, a, b, label, text, status in span_rows:
            if status in statuses:
                spans.setdefault(sid, []).append(Span(a, b, label, text, status))
        out = []
        for sid, text in sentence_rows:
            base = self.bare(sid) if role == "pool" else Sentence.from_text(sid, text)
            out.append(base.with_spans(spans[sid]) if sid in spans else base)
        return Corpus(out, source=self._source, format="allabel")

    def has_role(self, role: str) -> bool:
        return bool(self._db.conn().execute("SELECT 1 FROM sentences WHERE role = ? LIMIT 1", (role,)).fetchone())

    def has_gold(self, role: str) -> bool:
        return bool(self._db.conn().execute("SELECT 1 FROM gold_spans WHERE role = ? LIMIT 1", (role,)).fetchone())
