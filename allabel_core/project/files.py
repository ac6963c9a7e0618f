"""Project files in a folder: create one by name, from uploaded bytes or
from the sample data, and list what is there."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import Corpus
from ..data.schema import load_schema
from ..errors import ProjectError
from ..paths import projects_dir as default_projects_dir
from ..paths import sample_data_dir
from .core import Project
from .db import SUFFIX


@dataclass(frozen=True)
class ProjectInfo:
    """A project file as :func:`list_projects` sees it (``error`` if unreadable)."""

    path: Path
    name: str
    modified: float
    pool_size: int = 0
    confirmed: int = 0
    error: str | None = None


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
