"""Project files in a folder: create one by name, from uploaded bytes or
from the sample data, list what is there, and find one by name."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import Corpus, CorpusStream
from ..data.schema import load_schema
from ..errors import ProjectError
from ..jobs import Progress
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
    name: str, pool: Corpus | CorpusStream, target: Corpus | CorpusStream | None = None, schema=None, *,
    projects_dir: str | Path | None = None, settings: Mapping | None = None, unique: bool = True,
    progress: Progress | None = None,
) -> Project:
    """Create ``<projects_dir>/<slug of name>.allabel``; if that is taken,
    ``-2``, ``-3``… (``unique``) or ``ProjectError`` (``unique=False``, for a
    name that later commands will use). ``pool``, ``target``, ``progress``:
    see :meth:`Project.create`."""
    folder = projects_folder(projects_dir)
    base = _slug(name)
    if not unique:
        path = folder / f"{base}{SUFFIX}"
        if path.exists():
            raise ProjectError(f"a project called {base!r} already exists in {folder}; choose another name")
        return Project.create(path, pool, target, schema, name=name, settings=settings, progress=progress)
    for n in range(1, 10_000):
        path = folder / f"{base}{'' if n == 1 else f'-{n}'}{SUFFIX}"
        if not path.exists():
            return Project.create(path, pool, target, schema, name=name, settings=settings, progress=progress)
    raise ProjectError(f"too many projects named {name!r} in {folder}")


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def read_input(data: bytes, filename: str, *, fmt: str | None = None, text_column: str | None = None,
               split_sentences: bool = False, max_bytes: int | None = MAX_UPLOAD_BYTES) -> Corpus:
    """A pool or target file's content as a corpus: any format the data layer
    reads (``text_column`` for a table, or the text key of unlabelled JSONL),
    optionally cut into sentences (:func:`allabel_core.data.split.split_corpus`)."""
    from ..formats import read_corpus_bytes

    _check_size(data, filename, max_bytes)
    options = {"text_column": text_column} if text_column else {}
    corpus = read_corpus_bytes(data, filename, fmt, **options)
    if split_sentences:
        from ..data.split import split_corpus

        corpus = split_corpus(corpus)
    return corpus


def _check_size(data: bytes, filename: str, max_bytes: int | None) -> None:
    from ..errors import DataFormatError

    if max_bytes is not None and len(data) > max_bytes:
        raise DataFormatError(f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB",
                              path=filename)


def stream_input(data: bytes, filename: str, *, fmt: str | None = None, text_column: str | None = None,
                 split_sentences: bool = False, max_bytes: int | None = MAX_UPLOAD_BYTES) -> CorpusStream:
    """:func:`read_input` as a :class:`CorpusStream`: the sentences are built
    as the stream is read (a project is created from it a batch at a time)."""
    from ..formats import stream_corpus_bytes

    _check_size(data, filename, max_bytes)
    options = {"text_column": text_column} if text_column else {}
    stream = stream_corpus_bytes(data, filename, fmt, **options)
    if split_sentences:
        from ..data.split import split_stream

        stream = split_stream(stream)
    return stream


def create_project_from_bytes(
    name: str, data: bytes, filename: str, *, fmt: str | None = None,
    target: tuple[bytes, str] | None = None, projects_dir: str | Path | None = None,
    max_bytes: int | None = MAX_UPLOAD_BYTES, text_column: str | None = None, schema=None,
    split_sentences: bool = False, unique: bool = True, settings: Mapping | None = None,
    progress: Progress | None = None,
) -> Project:
    """Create a project from uploaded file content (see :func:`read_input`;
    ``target``: an optional ``(data, filename)`` test set; ``schema``: a
    :class:`Schema` or what :meth:`Schema.from_obj` reads, else the labels
    found, else none yet). The sentences are written as they are read, a
    batch at a time (``progress(done, total)`` in lines of the files); a
    bad file (its error names the file and line) or one over ``max_bytes``
    creates nothing."""
    read = dict(fmt=fmt, text_column=text_column, split_sentences=split_sentences, max_bytes=max_bytes)
    pool = stream_input(data, filename, **read)
    test = stream_input(target[0], target[1], **read) if target else None
    return create_project(name or Path(filename).stem, pool, test, schema, projects_dir=projects_dir,
                          settings=settings, unique=unique, progress=progress)


SAMPLE_FILE = "sample" + SUFFIX


def create_sample_project(projects_dir: str | Path | None = None) -> Project:
    """The sample corpus (``sample_data/pool.jsonl``, ``test.jsonl``,
    ``schema.json``; without it, the labels found) as a project, in one call. If the sample project already
    exists in the folder it is opened instead, with its labels."""
    from ..formats import read_corpus

    folder = projects_folder(projects_dir)
    path = folder / SAMPLE_FILE
    if path.exists():
        return Project.open(path)
    data = sample_data_dir()
    target, schema = data / "test.jsonl", data / "schema.json"
    return Project.create(
        path, read_corpus(data / "pool.jsonl"), read_corpus(target) if target.exists() else None,
        load_schema(schema) if schema.exists() else None, name="Sample corpus (materials science)",
    )


def projects_folder(projects_dir: str | Path | None = None) -> Path:
    """``projects_dir`` if given, else the default folder (see :func:`allabel_core.paths.projects_dir`)."""
    return Path(projects_dir) if projects_dir else default_projects_dir()


def project_path(name: str, projects_dir: str | Path | None = None) -> Path:
    """Where a project called ``name`` is kept: ``<folder>/<slug of name>.allabel``."""
    return projects_folder(projects_dir) / f"{_slug(name)}{SUFFIX}"


def find_project(name: str, projects_dir: str | Path | None = None) -> Path:
    """The file of the project called ``name``: its file name without
    ``.allabel`` (what the dashboard puts in ``?project=``), else the name it
    was created with, else that name's slug. Raises ``ProjectError`` saying
    which projects exist when none matches (or when two share the name)."""
    name = str(name).strip()
    infos = list_projects(projects_dir)
    for match in (lambda i: i.path.stem == name, lambda i: i.error is None and i.name == name,
                  lambda i: i.path.stem == _slug(name)):
        found = [i for i in infos if match(i)]
        if len(found) == 1:
            return found[0].path
        if len(found) > 1:
            raise ProjectError(f"{len(found)} projects are called {name!r}: "
                               f"{', '.join(i.path.stem for i in found)}; use one of these file names")
    folder = projects_folder(projects_dir)
    known = ", ".join(sorted(i.path.stem for i in infos)) or "none"
    raise ProjectError(f"no project called {name!r} in {folder}; the projects there: {known}")


def list_projects(projects_dir: str | Path | None = None) -> list[ProjectInfo]:
    """Project files in the folder, most recently changed first."""
    folder = projects_folder(projects_dir)
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
