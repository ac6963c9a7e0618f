"""A labeling project: one SQLite file (WAL mode) in a projects folder.

It holds the pool (and an optional target set) with gold spans kept apart
from the person's labels, the schema, the settings (never an API key), the
selections with stage and reason, the person's spans (``suggested`` /
``confirmed``) with a history for undo, per-sentence state (``confirmed`` /
``skipped``), the current position in the queue, predictions with what was
retrieved, the LLM ledger, curve results and the cached map projection.

Every method that changes something commits before it returns, so killing
the process loses nothing and reopening resumes where the person left off.
One connection per thread; safe to share one :class:`Project` between the
threads of a Streamlit server.

API at a glance::

    p = Project.create(path, pool, target=None, schema=None, name=None)  # atomic
    p = Project.open(path);  create_sample_project();  list_projects()
    p.pool() / p.sentence(id)    # person's spans (confirmed + suggested), never gold
    p.gold() / p.target()        # gold layer (pool) / target set with gold, or None
    p.annotated()                # confirmed sentences, confirmed spans: the retrieval corpus
    p.schema; p.settings; p.set_settings(k=5, budget=40)
    p.record_selection(picks, stage); p.enqueue(ids); p.selections(); p.selection(id)
    p.queue(); p.clear_selections(stage)                                  (project_queue)
    p.current(); p.set_current(id); p.next_id(after); p.previous_id(before); p.progress()
    p.export(fmt) -> (bytes, warnings);  create_project_from_bytes(name, data, filename)
    p.add_span / remove_span / set_label / suggest / accept_suggestions /
      reject_suggestion / confirm / skip / apply_to_identical / undo /
      spans(id) / state(id) / states() / history()                         (project_labels)
    p.save_predictions / predictions / prediction / log_ledger / ledger /
      save_curve / curve_results / last_f1 / save_projection / projection (project_records)

Predictor from settings and one-sentence suggestions: :mod:`.project_predict`;
the escaped sentence view for the UI: :mod:`.project_view`.
Offsets are code points; :func:`utf16_offset` / :func:`from_utf16` convert for browsers.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import Corpus
from ..errors import ConfigError, EmptyPoolError, ProjectError
from ..paths import projects_dir as default_projects_dir
from ..paths import sample_data_dir
from .db import FORMAT_VERSION, SUFFIX, Database, dumps
from .db import build as _build
from .labels import LabelingMixin, SpanError, Undone
from .selections import QueueMixin
from .records import RecordsMixin
from ..data.schema import EntityType, Schema, from_utf16, load_schema, utf16_offset
from .settings import DEFAULT_SETTINGS, check_setting, known_secrets
from ..data.sentence import Sentence, Span

__all__ = [
    "EntityType", "Project", "ProjectInfo", "Schema", "SpanError", "Undone", "create_project",
    "create_project_from_bytes", "create_sample_project", "from_utf16", "list_projects", "load_schema", "utf16_offset",
]


@dataclass(frozen=True)
class ProjectInfo:
    """A project file as :func:`list_projects` sees it (``error`` if unreadable)."""

    path: Path
    name: str
    modified: float
    pool_size: int = 0
    confirmed: int = 0
    error: str | None = None


class Project(LabelingMixin, QueueMixin, RecordsMixin):
    """An open project. Build with :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, _token: object = None):
        if _token is not _OPEN:
            raise ProjectError("use Project.open(path) or Project.create(...)")
        self.path = Path(path)
        self._db = Database(self.path)
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._texts: dict[str, str] | None = None
        self._base: dict[str, Sentence] = {}
        meta = dict(self._db.conn().execute("SELECT key, value FROM meta"))
        self.name: str = json.loads(meta["name"])
        self.schema = Schema(tuple(
            EntityType(n, d, c) for n, d, c in self._db.conn().execute("SELECT name, description, color FROM labels ORDER BY pos")
        ))

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
        cls, path: str | Path, pool: Corpus, target: Corpus | None = None, schema=None,
        name: str | None = None, settings: Mapping | None = None,
    ) -> Project:
        """Create a project file from a pool (and optional target set).

        ``schema``: a :class:`Schema`, ``{"labels": [...]}`` or a list of names;
        None takes the labels found in the corpora. Spans read from the files
        keep their status: ``gold`` goes to the gold layer, ``suggested`` and
        ``confirmed`` (pool only) to the person's layer. The budget defaults to
        10 % of the pool. Creation is atomic: on any failure no file is left.
        """
        path = Path(path)
        if path.exists():
            raise ProjectError(f"{path} already exists; open it or choose another name")
        if not len(pool):
            raise EmptyPoolError("the pool has no sentences; a project needs at least one")
        corpora = [pool] + ([target] if target is not None else [])
        schema = Schema.from_obj(schema, (sp.label for c in corpora for s in c for sp in s.spans))
        missing = sorted({sp.label for c in corpora for s in c for sp in s.spans} - set(schema.names))
        if missing:
            raise ConfigError(f"the data uses labels the schema lacks: {', '.join(missing)}")
        values = {**DEFAULT_SETTINGS, "budget": max(1, round(0.1 * len(pool))), **dict(settings or {})}
        for key, value in values.items():
            check_setting(key, value)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            _build(tmp, pool, target, schema, name or path.name.removesuffix(SUFFIX), values)
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
        if value:
            self._secrets.add(str(value))

    def _secret_values(self) -> list[str]:
        return known_secrets(self._secrets)

    # -- sentences -----------------------------------------------------------
    def _pool_texts(self) -> dict[str, str]:
        if self._texts is None:
            rows = self._db.conn().execute("SELECT id, text FROM sentences WHERE role = 'pool' ORDER BY pos")
            self._texts = dict(rows.fetchall())  # sentences never change after creation
        return self._texts

    def _pool_text(self, sentence_id: str) -> str:
        try:
            return self._pool_texts()[sentence_id]
        except KeyError:
            raise ProjectError(f"no pool sentence with id {sentence_id!r}") from None

    def pool_ids(self) -> list[str]:
        """Pool sentence ids in file order (index i is pool position i)."""
        return list(self._pool_texts())

    def __len__(self) -> int:
        return len(self._pool_texts())

    def _bare(self, sentence_id: str) -> Sentence:
        s = self._base.get(sentence_id)
        if s is None:
            s = Sentence.from_text(sentence_id, self._pool_text(sentence_id))
            with self._lock:
                self._base[sentence_id] = s
        return s

    def _corpus(self, role: str, layer: str, statuses: tuple[str, ...], only: set[str] | None = None) -> Corpus:
        conn = self._db.conn()
        table = "gold_spans" if layer == "gold" else "spans"
        cond = "role = ?" if layer == "gold" else "1 = 1"
        args = [role] if layer == "gold" else []
        spans: dict[str, list[Span]] = {}
        status_sql = "'gold'" if layer == "gold" else "status"
        for sid, a, b, label, text, status in conn.execute(
            f"SELECT sentence_id, start, end, label, text, {status_sql} FROM {table} WHERE {cond}", args
        ):
            if status in statuses:
                spans.setdefault(sid, []).append(Span(a, b, label, text, status))
        out = []
        for sid, text in conn.execute("SELECT id, text FROM sentences WHERE role = ? ORDER BY pos", (role,)):
            if only is not None and sid not in only:
                continue
            base = self._bare(sid) if role == "pool" else Sentence.from_text(sid, text)
            out.append(base.with_spans(spans[sid]) if sid in spans else base)
        return Corpus(out, source=str(self.path), format="allabel")

    def pool(self) -> Corpus:
        """Pool sentences with the person's spans (confirmed and suggested), never gold."""
        return self._corpus("pool", "person", ("confirmed", "suggested"))

    def sentence(self, sentence_id: str) -> Sentence:
        """One pool sentence with the person's spans."""
        return self._bare(sentence_id).with_spans(self.spans(sentence_id))

    def gold(self) -> Corpus:
        """Pool sentences with their gold spans (empty spans when the file had none)."""
        return self._corpus("pool", "gold", ("gold",))

    def target(self) -> Corpus | None:
        """The target set with gold spans, or None if the project has none
        (then the pool itself is the target)."""
        if not self._db.conn().execute("SELECT 1 FROM sentences WHERE role = 'target' LIMIT 1").fetchone():
            return None
        return self._corpus("target", "gold", ("gold",))

    def annotated(self) -> Corpus:
        """Confirmed sentences with their confirmed spans only: the retrieval corpus."""
        done = {sid for sid, st in self.states().items() if st == "confirmed"}
        return self._corpus("pool", "person", ("confirmed",), only=done)

    def export(self, fmt: str) -> tuple[bytes, list[str]]:
        """The confirmed labels (:meth:`annotated`) as a file in ``fmt`` (a
        name in :data:`allabel_core.formats.FORMATS`): UTF-8 bytes, and a
        warning for each span the format cannot hold (overlaps in BIO)."""
        from ..formats import dumps_corpus

        text, warnings = dumps_corpus(self.annotated(), fmt, statuses=("confirmed",))
        return text.encode("utf-8"), warnings

    def has_gold(self, role: str = "pool") -> bool:
        return bool(self._db.conn().execute("SELECT 1 FROM gold_spans WHERE role = ? LIMIT 1", (role,)).fetchone())

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
            check_setting(key, value, self._secret_values())
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
            "pending": len(self.queue()),
            "confirmed_spans": one("SELECT COUNT(*) FROM spans s JOIN sentence_state st ON st.sentence_id = s.sentence_id"
                                   " WHERE s.status = 'confirmed' AND st.state = 'confirmed'"),
            "suggested_sentences": one("SELECT COUNT(DISTINCT sentence_id) FROM spans WHERE status = 'suggested'"),
        }


_OPEN = object()


def _slug(name: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", name.strip(), flags=re.ASCII).strip("-").lower()
    return slug[:60] or "project"


def create_project(
    name: str, pool: Corpus, target: Corpus | None = None, schema=None, *,
    projects_dir: str | Path | None = None, settings: Mapping | None = None,
) -> Project:
    """Create ``<projects_dir>/<slug of name>.allabel`` (``-2``, ``-3``… if taken)."""
    folder = Path(projects_dir) if projects_dir else default_projects_dir()
    base = _slug(name)
    for n in range(1, 10_000):
        path = folder / f"{base}{'' if n == 1 else f'-{n}'}{SUFFIX}"
        if not path.exists():
            return Project.create(path, pool, target, schema, name=name, settings=settings)
    raise ProjectError(f"too many projects named {name!r} in {folder}")


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_project_from_bytes(
    name: str, data: bytes, filename: str, *, fmt: str | None = None,
    target: tuple[bytes, str] | None = None, projects_dir: str | Path | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Project:
    """Create a project from uploaded file content (any format the data
    layer reads; ``target``: an optional ``(data, filename)`` test set).
    Every file is read and checked first, so a bad one (its error names the
    file and line) or one over ``max_bytes`` creates nothing."""
    from ..errors import DataFormatError
    from ..formats import read_corpus_bytes

    for blob, fname in [(data, filename)] + ([target] if target else []):
        if len(blob) > max_bytes:
            raise DataFormatError(f"the file is {len(blob) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB",
                                  path=fname)
    pool = read_corpus_bytes(data, filename, fmt)
    test = read_corpus_bytes(target[0], target[1], fmt) if target else None
    return create_project(name or Path(filename).stem, pool, test, projects_dir=projects_dir)


SAMPLE_FILE = "sample" + SUFFIX


def create_sample_project(projects_dir: str | Path | None = None) -> Project:
    """The sample corpus (``sample_data/pool.jsonl``, ``test.jsonl``,
    ``schema.json``; without it, the labels found) as a project, in one call. If the sample project already
    exists in the folder it is opened instead, with its labels."""
    from ..formats import read_corpus

    folder = Path(projects_dir) if projects_dir else default_projects_dir()
    path = folder / SAMPLE_FILE
    if path.exists():
        return Project.open(path)
    data = sample_data_dir()
    target, schema = data / "test.jsonl", data / "schema.json"
    return Project.create(
        path, read_corpus(data / "pool.jsonl"), read_corpus(target) if target.exists() else None,
        load_schema(schema) if schema.exists() else None, name="Sample corpus (materials science)",
    )


def list_projects(projects_dir: str | Path | None = None) -> list[ProjectInfo]:
    """Project files in the folder, most recently changed first."""
    folder = Path(projects_dir) if projects_dir else default_projects_dir()
    out = []
    for path in folder.glob(f"*{SUFFIX}"):
        wal = Path(f"{path}-wal")
        modified = max(path.stat().st_mtime, wal.stat().st_mtime if wal.exists() else 0)
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                name = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'name'").fetchone()[0])
                pool = conn.execute("SELECT COUNT(*) FROM sentences WHERE role = 'pool'").fetchone()[0]
                done = conn.execute("SELECT COUNT(*) FROM sentence_state WHERE state = 'confirmed'").fetchone()[0]
            finally:
                conn.close()
            out.append(ProjectInfo(path, name, modified, pool, done))
        except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
            out.append(ProjectInfo(path, path.stem, modified, error=f"cannot read: {exc}"))
    return sorted(out, key=lambda p: -p.modified)
