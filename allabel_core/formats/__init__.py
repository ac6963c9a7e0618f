"""Readers and writers for the annotation formats users bring and want back.

- ``jsonl``: ``{"id", "tokens", "tags"}`` per line (``.jsonl``, ``.ndjson``).
- ``conll``: a token per line and a tag column (``.conll``, ``.bio``,
  ``.iob``, ``.tsv``; ``.txt`` and unknown extensions when the content is
  token and tag lines).
- ``doccano``: ``{"text", "label": [[start, end, "LABEL"]]}`` per line, or
  its relation export ``{"text", "entities", "relations"}``.
- ``labelstudio``: a JSON array of tasks (or one task) with annotations or
  predictions (``.json``).
- ``prodigy``: Prodigy's JSONL (``spans``, ``tokens``, ``answer``, ``meta``).
- ``spacy``: ``{"id", "text", "spans": [{"start", "end", "label"}]}`` per line.
- ``jsonl-text``: unlabelled JSONL, ``{"text", "id"?, "meta"?}`` per line.
- ``table``: ``.csv``/``.tsv`` with a header and a text column, unlabelled.
- ``text``: one sentence per line, unlabeled (``.txt``).

How the format is told from the name and the content: :mod:`.sniff`. Every
reader checks the whole file before returning anything and raises
:class:`~allabel_core.errors.DataFormatError` naming the file, the line (for
Label Studio, the line where the task starts, and "record N"), and what is
wrong; so a failed import changes nothing. What reading repaired or left out
(IOB1 converted, ``I-X`` without a start, UTF-16 offsets, whitespace at span
edges, rejected Prodigy answers, the format told from the content) is listed
in ``Corpus.warnings``.

Reader options (keyword arguments of :func:`read_corpus`): ``text_column``
and ``id_column`` (tables; ``text_column`` also names the text key of
unlabelled JSONL), ``token_column`` and ``tag_column`` (CoNLL, 1-based).
Writer options (of :func:`dumps_corpus`/:func:`write_corpus`): ``ids`` and
``delimiter`` (CoNLL), and for every format ``annotated`` (which sentences a
person finished, marked where the format can say it).

Token formats (conll, jsonl) hold tokens and IOB2 tags; span formats
(doccano, spacy, prodigy, labelstudio) hold the text and character offsets.
Each round-trips its own kind without loss. Across kinds, a corpus of
character spans written as CoNLL or JSONL and read back keeps its tokens and
tags, but its text becomes the tokens joined by single spaces, so whitespace
(and the offsets after it) may differ; overlapping spans cannot be written as
BIO and each dropped span is listed in the writer's warnings. Writers take a
``statuses`` filter (gold and confirmed by default); suggested spans left out
by it are not warned about. A span's ``source`` and ``score`` are written
where the format has room for them (docs/formats.md says where).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from ..data.corpus import Corpus, CorpusStream
from ..errors import ConfigError, DataFormatError
from ..data.sentence import STATUSES, TRUSTED, Sentence
from . import conll, doccano, jsonl, labelstudio, prodigy, spacy_spans, table, text, textjsonl
from ..io.atomic import atomic_write_bytes
from ._io import Source, check_nonempty, decode
from .sniff import detect

__all__ = [
    "FORMATS",
    "Format",
    "detect_format",
    "dumps_corpus",
    "read_corpus",
    "read_corpus_bytes",
    "stream_corpus",
    "stream_corpus_bytes",
    "table_columns",
    "write_corpus",
]


class Format(NamedTuple):
    """A registry entry. ``reader(text, source, status=..., **options)``
    returns ``(line, sentence)`` pairs (a generator for the formats read record by record); ``writer(sentences, statuses, **options)``
    returns ``(text, warnings)``. ``options``/``write_options`` name the
    keyword arguments each accepts beyond those."""

    reader: Callable[..., Iterable[tuple[int, Sentence]]]
    writer: Callable[..., tuple[str, list[str]]]
    extensions: tuple[str, ...]
    description: str
    options: tuple[str, ...] = ()
    write_options: tuple[str, ...] = ()
    labelled: bool = True


_JSONL = (".jsonl", ".ndjson")

FORMATS: dict[str, Format] = {
    "jsonl": Format(jsonl.read, jsonl.write, _JSONL, 'JSONL tokens/tags: {"id", "tokens", "tags"} per line'),
    "conll": Format(
        conll.read, conll.write, (".conll", ".bio", ".iob", ".tsv"), "CoNLL/BIO: token per line and a tag column",
        ("token_column", "tag_column"), ("ids", "delimiter"),
    ),
    "doccano": Format(doccano.read, doccano.write, _JSONL, 'doccano JSONL: {"text", "label": [[start, end, "LABEL"]]}'),
    "labelstudio": Format(
        labelstudio.read, labelstudio.write, (".json",), "Label Studio JSON tasks with annotations and predictions",
        ("text_column",), ("annotated",),
    ),
    "prodigy": Format(prodigy.read, prodigy.write, _JSONL, 'Prodigy JSONL: {"text", "spans", "tokens", "answer"}'),
    "spacy": Format(
        spacy_spans.read, spacy_spans.write, _JSONL, 'spaCy-style JSONL: {"id", "text", "spans": [{start, end, label}]}'
    ),
    "jsonl-text": Format(
        textjsonl.read, textjsonl.write, _JSONL, 'unlabelled JSONL: {"text", "id"?, "meta"?} per line',
        ("text_column",), labelled=False,
    ),
    "table": Format(
        table.read, table.write, (".csv", ".tsv"), "table (.csv/.tsv) with a header and a text column, unlabelled",
        ("text_column", "id_column"), labelled=False,
    ),
    "text": Format(text.read, text.write, (".txt",), "plain text, one sentence per line, unlabeled", labelled=False),
}

# What a file name means for writing when several formats share its extension.
_WRITE_DEFAULT = {".tsv": "conll"}


def _format_name(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def _candidates(filename: str) -> tuple[list[str], str]:
    """Formats the extension allows, and a message for when there are none."""
    suffix = Path(filename).suffix.lower()
    found = [name for name, f in FORMATS.items() if suffix in f.extensions]
    known = ", ".join(sorted({e for f in FORMATS.values() for e in f.extensions}))
    why = (
        f"cannot tell the format from the extension {suffix or '(none)'!r} (known: {known}) "
        f"nor from the content; pass fmt= one of {', '.join(FORMATS)}"
    )
    return found, why


def _detect(filename: str, content: str, options: dict, src: Source) -> str:
    found, why = _candidates(filename)
    fmt = detect(filename, content, found, options, src)
    if not fmt:
        raise DataFormatError(why, path=filename)
    return fmt


def detect_format(filename: str, content: str) -> str:
    """The format of a file from its extension and, where the extension
    does not settle it, its content (``content`` is the decoded text)."""
    return _detect(filename, content, {}, Source(filename))


def _options(fmt: str, given: dict, allowed: tuple[str, ...], what: str) -> dict:
    given = {k: v for k, v in given.items() if v is not None}
    bad = [k for k in given if k not in allowed]
    if bad:
        takers = [name for name, f in FORMATS.items() if bad[0] in (f.options if what == "read" else f.write_options)]
        raise ConfigError(
            f"{bad[0]}= does not apply to the {fmt} format"
            + (f" (it applies to {', '.join(takers)})" if takers else "")
        )
    return given


def _column(name: str, value) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{name} must be a column number from 1 (the first column), got {value!r}")


def table_columns(data: bytes, filename: str) -> list[str]:
    """The column names in the header of a ``.csv``/``.tsv`` table (upload
    bytes), to offer as ``text_column=``. Raises ``DataFormatError`` for an
    empty file or one that is not UTF-8."""
    src = Source(filename)
    content = decode(data, filename)
    check_nonempty(content, src)
    return table.header(content, src)


def choose_format(filename: str, content: str, fmt: str | None, given: dict, src: Source) -> tuple[str, dict]:
    """The format to read ``content`` with (``fmt``, else told from the file)
    and the reader options of ``given`` that it takes (``ConfigError`` for
    one it does not)."""
    _column("token_column", given.get("token_column"))
    _column("tag_column", given.get("tag_column"))
    fmt = _format_name(fmt) if fmt else _detect(filename, content, given, src)
    return fmt, _options(fmt, given, FORMATS[fmt].options, "read")


def stream_corpus_bytes(
    data: bytes,
    filename: str,
    fmt: str | None = None,
    *,
    status: str = "gold",
    text_column: str | None = None,
    id_column: str | None = None,
    token_column: int | None = None,
    tag_column: int | None = None,
) -> CorpusStream:
    """An upload as a :class:`~allabel_core.data.corpus.CorpusStream`: the
    file is decoded and its format told now (errors raised here), its
    sentences built one at a time as the stream is read (errors raised
    then, naming the line). What a 100k-sentence pool is read with: only
    the text is held whole, never every parsed sentence."""
    if status not in STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    given = {"text_column": text_column, "id_column": id_column, "token_column": token_column, "tag_column": tag_column}
    src = Source(filename)
    content = decode(data, filename)
    check_nonempty(content, src)
    fmt, options = choose_format(filename, content, fmt, given, src)
    items = FORMATS[fmt].reader(content, src, status=status, **options)
    lines = content.count("\n") + (0 if content.endswith("\n") else 1)
    return CorpusStream(items, source=filename, format=fmt, lines=lines, warnings=src.warnings)


def stream_corpus(path: str | Path, fmt: str | None = None, **options) -> CorpusStream:
    """:func:`stream_corpus_bytes` of a file (``options`` as for :func:`read_corpus`)."""
    return stream_corpus_bytes(Path(path).read_bytes(), str(path), fmt, **options)


def read_corpus_bytes(
    data: bytes,
    filename: str,
    fmt: str | None = None,
    *,
    status: str = "gold",
    text_column: str | None = None,
    id_column: str | None = None,
    token_column: int | None = None,
    tag_column: int | None = None,
) -> Corpus:
    """Read an upload: the same checks as :func:`read_corpus`, with
    ``filename`` naming it in messages and telling its format."""
    stream = stream_corpus_bytes(data, filename, fmt, status=status, text_column=text_column, id_column=id_column,
                                 token_column=token_column, tag_column=tag_column)
    sentences = list(stream)
    return Corpus(sentences, stream.warnings, filename, stream.format)


def read_corpus(
    path: str | Path,
    fmt: str | None = None,
    *,
    status: str = "gold",
    text_column: str | None = None,
    id_column: str | None = None,
    token_column: int | None = None,
    tag_column: int | None = None,
) -> Corpus:
    """Read a corpus file; ``fmt`` overrides the format told from the file.

    Spans read get ``status`` (Label Studio predictions are always
    ``suggested``; spaCy-style spans may carry their own). ``text_column``
    (and ``id_column``) pick the columns of a ``.csv``/``.tsv`` table (or
    the text key of unlabelled JSONL); ``token_column`` and ``tag_column``
    (1-based) those of a CoNLL file. Raises ``DataFormatError`` naming the
    file and line of the first problem, ``ConfigError`` for an option the
    format does not take.
    """
    path = Path(path)
    return read_corpus_bytes(
        path.read_bytes(), str(path), fmt, status=status, text_column=text_column, id_column=id_column,
        token_column=token_column, tag_column=tag_column,
    )


def _statuses(statuses: Iterable[str] | str) -> tuple[str, ...]:
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise ConfigError(f"statuses {bad} are not among {', '.join(STATUSES)}")
    return statuses


def dumps_corpus(
    sentences: Iterable[Sentence] | Corpus,
    fmt: str,
    *,
    statuses: Iterable[str] = TRUSTED,
    annotated: bool | Iterable[str] | None = None,
    **options,
) -> tuple[str, list[str]]:
    """The file content for ``sentences`` in ``fmt``, and the warnings
    (each span that could not be written, listed). Encode as UTF-8 for bytes.

    ``annotated``: which sentences a person finished, ``True`` for all or
    their ids; a format that marks it (Label Studio: an annotation, empty
    when there are no entities) uses it, the others write a finished
    sentence without entities as one without spans anyway. By default, a
    :class:`Corpus` read from a labelled format is finished throughout
    (Label Studio tasks that had no annotation aside), anything else only
    where it has gold or confirmed spans. ``options``: ``ids=True`` (CoNLL: a
    ``# id = ...`` line before each sentence; off by default, since doccano's
    importer and conlleval take only token and tag lines), ``delimiter=" "``
    (CoNLL: conlleval's default instead of a tab).
    """
    fmt = _format_name(fmt)
    options = _options(fmt, options, FORMATS[fmt].write_options, "write")
    if "annotated" in FORMATS[fmt].write_options:
        if annotated is None and isinstance(sentences, Corpus):
            annotated = _annotated_by_default(sentences)
        options["annotated"] = annotated if annotated in (True, None) else set(annotated)
    return FORMATS[fmt].writer(list(sentences), _statuses(statuses), **options)


def _annotated_by_default(corpus: Corpus):
    """A corpus read from a labelled format is annotated throughout (a
    sentence without spans has no entities), except Label Studio tasks that
    had no annotation; an unlabelled one is not."""
    if corpus.format is None or not FORMATS.get(corpus.format, FORMATS["text"]).labelled:
        return None
    return {s.id for s in corpus if labelstudio.was_annotated(s)}


def write_corpus(
    sentences: Iterable[Sentence] | Corpus,
    path: str | Path,
    fmt: str | None = None,
    *,
    statuses: Iterable[str] = TRUSTED,
    annotated: bool | Iterable[str] | None = None,
    **options,
) -> list[str]:
    """Write ``sentences`` to ``path`` atomically; returns the warnings.

    ``fmt`` defaults to the one the extension names. A ``.jsonl`` path could
    be several formats: a :class:`Corpus` read from one of those is written
    back in it, anything else needs ``fmt``. ``annotated`` and ``options``
    as for :func:`dumps_corpus`.
    """
    if fmt is None:
        found, why = _candidates(str(path))
        own = sentences.format if isinstance(sentences, Corpus) else None
        if not found:
            raise ConfigError(why)
        if len(found) == 1 or own in found:
            fmt = found[0] if len(found) == 1 else own
        elif Path(path).suffix.lower() in _WRITE_DEFAULT:
            fmt = _WRITE_DEFAULT[Path(path).suffix.lower()]
        else:
            raise ConfigError(f"a {Path(path).suffix} file can hold {', '.join(found)}; pass fmt= to choose")
    content, warnings = dumps_corpus(sentences, fmt, statuses=statuses, annotated=annotated, **options)
    atomic_write_bytes(path, content.encode("utf-8"))
    return warnings
