"""A labeling project: one SQLite file (WAL mode) in a projects folder.

It holds the pool (and an optional target set) with gold spans kept apart
from the person's labels, the schema, the settings (never an API key), the
selections with stage and reason, the person's spans (``suggested`` /
``confirmed``) with a history for undo, per-sentence state (``confirmed`` /
``skipped``), the current position in the queue, predictions with what was
retrieved, the LLM ledger, curve results and the cached map layout.

Every method that changes something commits before it returns, so killing
the process loses nothing and reopening resumes where the person left off.
One connection per thread; safe to share one :class:`Project` between the
threads of a Streamlit server.

:class:`Project` owns the :class:`~.db.Database` and builds three parts,
each given exactly what it uses::

    p = Project.create(path, pool, target=None, schema=None, name=None)  # atomic
    p = Project.open(path)        # create_project / create_sample_project / list_projects: .files
    p.pool() / p.sentence(id)     # person's spans (confirmed + suggested), never gold
    p.gold() / p.target()         # gold layer (pool) / target set with gold, or None
    p.gold_spans(id)              # one sentence's gold spans
    p.annotated()                 # confirmed sentences, confirmed spans: the retrieval corpus
    p.schema; p.settings; p.set_settings(k=5, budget=40); p.progress(); p.export(fmt)
    p.import_labels(corpus, add_types=False)   # annotated sentences -> confirmed labels (.imports)
    p.types       # add / rename / recolour / describe / move / remove / usage / merge /
                  # replace: the entity types, saved at once, undone by p.labels.undo (.types)
    p.labels      # add_span / remove_span / set_label / suggest / accept_suggestions /
                  # reject_suggestion / confirm / skip / apply_to_identical / undo /
                  # spans(id) / state(id) / states() / history() / revision(id) (.labels)
    p.selections  # record / enqueue / clear / table / get / queue / current /
                  # set_current / next_id / previous_id                     (.selections)
    p.records     # save_predictions / predictions / prediction / log_ledger / ledger /
                  # ledger_totals / save_curve / curve_results / last_f1 /
                  # save_projection / projection                             (.records)

Workflows over a project are plain functions beside it: :mod:`.tasks`
(stages, live curve, experiment, map) and :mod:`.predict` (one sentence).
Offsets are code points; :func:`~allabel_core.data.schema.utf16_offset` /
:func:`~allabel_core.data.schema.from_utf16` convert for browsers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path

from ..data.corpus import Corpus, CorpusStream
from ..data.schema import Schema
from ..data.sentence import Sentence, Span
from ..errors import EmptyPoolError, ProjectError, SchemaError
from ..jobs import Progress
from .db import FORMAT_VERSION, SUFFIX, Database, dumps, migrate
from .db import build as _build
from .labels import Labels
from .records import Records
from .selections import Selections
from .sentences import SentenceStore
from .settings import DEFAULT_SETTINGS, Secrets, check_setting
from .types import TypesEditor

__all__ = ["Project"]



class Project:
    """An open project. Build with :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, _token: object = None):
        if _token is not _OPEN:
            raise ProjectError("use Project.open(path) or Project.create(...)")
        self.path = Path(path)
        self._db = Database(self.path)
        migrate(self._db.conn())
        self._secrets = Secrets()
        self._sentences = SentenceStore(self._db, self.path)
        meta = dict(self._db.conn().execute("SELECT key, value FROM meta"))
        self.name: str = json.loads(meta["name"])
        self.labels = Labels(self._db, self._sentences, lambda: self.schema)
        self.types = TypesEditor(self._db, self.labels.record)
        self.selections = Selections(self._db, self._sentences, lambda: self.settings.get("stage_order"),
                                     self.labels.states, self._secrets)
        self.records = Records(self._db, self._secrets)

    @property
    def schema(self) -> Schema:
        """The entity types as saved now (edit them with :attr:`types`)."""
        return self.types.schema

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Open an existing project file; raises ``ProjectError`` if it is not one."""
        path = Path(path)
        if not path.is_file():
            raise ProjectError(f"no project at {path}")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"{path} is not an ALLabel project ({exc})") from None
        if row is None:
            raise ProjectError(f"{path} is not an ALLabel project (no format version)")
        if int(row[0]) > FORMAT_VERSION:
            raise ProjectError(f"{path} was written by a newer ALLabel (format {row[0]}); upgrade to open it")
        return cls(path, _OPEN)

    @classmethod
    def create(
        cls, path: str | Path, pool: Corpus | CorpusStream, target: Corpus | CorpusStream | None = None, schema=None,
        name: str | None = None, settings: Mapping | None = None, *, progress: Progress | None = None,
    ) -> Project:
        """Create a project file from a pool (and optional target set).

        ``pool``/``target``: a :class:`Corpus`, or a :class:`CorpusStream`
        (:func:`allabel_core.formats.stream_corpus`) for a big file, whose
        sentences are written as they are read, a batch at a time, so memory
        stays that of one batch. ``schema``: a :class:`Schema`,
        ``{"labels": [...]}`` or a list of names; None takes the labels found
        in the corpora. Spans read from the files keep their status: ``gold``
        goes to the gold layer, ``suggested`` and ``confirmed`` (pool only) to
        the person's layer. The budget defaults to 10 % of the pool.
        ``progress(done, total)``: lines read of the files (sentences, for a
        corpus). Creation is atomic: the file is written under a temporary
        name and appears only when complete, so a bad line, a type the schema
        lacks or any other failure leaves no file behind.
        """
        path = Path(path)
        if path.exists():
            raise ProjectError(f"{path} already exists; open it or choose another name")
        if isinstance(pool, Corpus) and not len(pool):
            raise EmptyPoolError("the pool has no sentences; a project needs at least one")
        given = dict(settings or {})
        for key, value in given.items():  # before reading anything
            check_setting(key, value)
        fixed = None if schema is None else Schema.from_obj(schema)

        def finish(pool_size: int, labels: list[str]) -> tuple[Schema, dict]:
            if not pool_size:
                raise EmptyPoolError("the pool has no sentences; a project needs at least one")
            chosen = fixed if fixed is not None else Schema.from_labels(labels)
            missing = sorted(set(labels) - set(chosen.names))
            if missing:
                raise SchemaError(f"{pool.source or 'the data'} uses types the schema does not have: "
                                  f"{', '.join(missing)}; add them to the schema, or leave the schema out "
                                  "to take the types from the data")
            values = {**DEFAULT_SETTINGS, "budget": max(1, round(0.1 * pool_size)), **given}
            for key, value in values.items():
                check_setting(key, value)
            return chosen, values

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        corpora = [("pool", pool)] + ([("target", target)] if target is not None else [])
        try:
            _build(tmp, corpora, name or path.name.removesuffix(SUFFIX), finish, progress=progress)
            try:
                os.link(tmp, path)  # refuses to replace a file created meanwhile
            except FileExistsError:
                raise ProjectError(f"{path} already exists; open it or choose another name") from None
        finally:
            for p in (tmp, Path(f"{tmp}-journal")):
                p.unlink(missing_ok=True)
        return cls.open(path)

    def close(self) -> None:
        """Close this project's connections (every thread's)."""
        self._db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def register_secret(self, value: str) -> None:
        """Remember (in memory only) a key typed for this session, so any text
        stored later is scrubbed of it."""
        self._secrets.register(value)

    # -- sentences -----------------------------------------------------------
    def pool_ids(self) -> list[str]:
        """Pool sentence ids in file order (index i is pool position i)."""
        return self._sentences.ids()

    def __len__(self) -> int:
        return len(self._sentences.texts())

    def has_sentence(self, sentence_id: str) -> bool:
        """Whether the pool has a sentence with this id."""
        return sentence_id in self._sentences.texts()

    def pool_texts(self) -> dict[str, str]:
        """Pool sentence id → text, in file order (a fresh dict)."""
        return dict(self._sentences.texts())

    def import_labels(self, sentences, *, add_types: bool = False, source: str | None = None):
        """Annotated ``sentences`` (read from a file) become confirmed labels,
        matched by id, else by text; see :func:`.imports.import_labels`.
        Returns an :class:`~.imports.ImportReport`."""
        from .imports import import_labels

        return import_labels(self, sentences, add_types=add_types, source=source)

    def pool(self) -> Corpus:
        """Pool sentences with the person's spans (confirmed and suggested), never gold."""
        return self._sentences.corpus("pool", "person", ("confirmed", "suggested"))

    def sentence(self, sentence_id: str, *, labels: bool = True) -> Sentence:
        """One pool sentence with the person's spans (``labels=False``: none,
        and no query for them)."""
        bare = self._sentences.bare(sentence_id)
        return bare.with_spans(self.labels.spans(sentence_id)) if labels else bare

    def gold(self) -> Corpus:
        """Pool sentences with their gold spans (empty spans when the file had none)."""
        return self._sentences.corpus("pool", "gold", ("gold",))

    def target(self) -> Corpus | None:
        """The target set with gold spans, or None if the project has none
        (then the pool itself is the target)."""
        if not self._sentences.has_role("target"):
            return None
        return self._sentences.corpus("target", "gold", ("gold",))

    def annotated(self) -> Corpus:
        """Confirmed sentences with their confirmed spans only: the retrieval corpus."""
        return self._sentences.corpus("pool", "person", ("confirmed",), state="confirmed")

    def export(self, fmt: str) -> tuple[bytes, list[str]]:
        """The confirmed labels (:meth:`annotated`) as a file in ``fmt`` (a
        name in :data:`allabel_core.formats.FORMATS`): UTF-8 bytes, and a
        warning for each span the format cannot hold (overlaps in BIO)."""
        from ..formats import dumps_corpus

        # Every sentence here was confirmed by a person, with or without entities.
        text, warnings = dumps_corpus(self.annotated(), fmt, statuses=("confirmed",), annotated=True)
        return text.encode("utf-8"), warnings

    def gold_spans(self, sentence_id: str, role: str = "pool") -> list[Span]:
        """One sentence's gold spans (from the file it came from), by position."""
        rows = self._db.conn().execute(
            "SELECT start, end, label, text FROM gold_spans WHERE role = ? AND sentence_id = ? ORDER BY start, end",
            (role, sentence_id))
        return [Span(a, b, label, text, "gold") for a, b, label, text in rows]

    def content_version(self) -> tuple:
        """A value that changes whenever what an export holds may have: the
        sentences, any person's label or state (every change bumps a
        sentence's revision, undo included), the predictions and the entity
        types. Cheap (a few aggregate queries), so a page can keep what it
        built from the project until this changes."""
        return tuple(self._db.conn().execute(
            "SELECT (SELECT COUNT(*) FROM sentences), (SELECT MAX(rowid) FROM sentences),"
            " (SELECT COUNT(*) FROM revisions), (SELECT TOTAL(rev) FROM revisions),"
            " (SELECT COUNT(*) FROM predictions), (SELECT MAX(seq) FROM predictions),"
            " (SELECT group_concat(name || ':' || pos, ',') FROM labels)").fetchone())

    def has_gold(self, role: str = "pool") -> bool:
        """Whether the file gave gold spans for ``role`` (``"pool"`` / ``"target"``)."""
        return self._sentences.has_gold(role)

    # -- settings ------------------------------------------------------------
    @property
    def settings(self) -> dict:
        """Every setting (defaults filled in), as a fresh dict."""
        stored = {k: json.loads(v) for k, v in self._db.conn().execute("SELECT key, value FROM settings")}
        return dict(DEFAULT_SETTINGS, **stored)

    def set_settings(self, values: Mapping | None = None, **kw) -> None:
        """Save settings (all or none). Refuses API keys: ``ConfigError``."""
        values = dict(values or {}, **kw)
        for key, value in values.items():
            check_setting(key, value, self._secrets.values())
        with self._db.tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)", [(k, dumps(v)) for k, v in values.items()])

    def progress(self) -> dict:
        """Counts for the progress bar: budget, pool, selected, confirmed
        (annotated sentences, with or without entities), skipped, pending
        (queue length), confirmed_spans, suggested_sentences."""
        conn = self._db.conn()

        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        return {
            "budget": int(self.settings["budget"]),
            "pool": len(self),
            "selected": one("SELECT COUNT(*) FROM selections"),
            "confirmed": one("SELECT COUNT(*) FROM sentence_state WHERE state = 'confirmed'"),
            "skipped": one("SELECT COUNT(*) FROM sentence_state WHERE state = 'skipped'"),
            "pending": len(self.selections.queue()),
            "confirmed_spans": one("SELECT COUNT(*) FROM spans s JOIN sentence_state st ON st.sentence_id = s.sentence_id"
                                   " WHERE s.status = 'confirmed' AND st.state = 'confirmed'"),
            "suggested_sentences": one("SELECT COUNT(DISTINCT sentence_id) FROM spans WHERE status = 'suggested'"),
        }


_OPEN = object()
