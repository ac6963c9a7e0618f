"""Readers and writers for the annotation formats users bring and want back.

- ``jsonl``: ``{"id", "tokens", "tags"}`` per line (``.jsonl``, ``.ndjson``).
- ``conll``: a token per line, the tag in the last column (``.conll``,
  ``.bio``, ``.iob``, ``.tsv``).
- ``doccano``: ``{"text", "label": [[start, end, "LABEL"]]}`` per line
  (``.jsonl``, ``.ndjson``).
- ``labelstudio``: a JSON array of tasks with annotations or predictions
  (``.json``).
- ``spacy``: ``{"id", "text", "spans": [{"start", "end", "label"}]}`` per line
  (``.jsonl``, ``.ndjson``).
- ``text``: one sentence per line, unlabeled (``.txt``).

A ``.jsonl`` file's format is told by the keys of its first record:
``tokens`` and ``tags`` mean jsonl, ``label`` or ``labels`` doccano, ``spans``
spacy. Every reader checks the whole file before returning anything and
raises :class:`~allabel_core.errors.DataFormatError` naming the file, the
line (for Label Studio, the line where the task starts, and "record N"), and
what is wrong; so a failed import changes nothing. What reading repaired
(IOB1 converted, ``I-X`` without a start, UTF-16 offsets, whitespace at span
edges) is listed in ``Corpus.warnings``.

Token formats (conll, jsonl) hold tokens and IOB2 tags; span formats
(doccano, spacy, labelstudio) hold the text and character offsets. Each
round-trips its own kind without loss. Across kinds, a corpus of character
spans written as CoNLL or JSONL and read back keeps its ids, tokens and tags,
but its text becomes the tokens joined by single spaces, so whitespace (and
the offsets after it) may differ; overlapping spans cannot be written as BIO
and each dropped span is listed in the writer's warnings. Writers take a
``statuses`` filter (gold and confirmed by default); suggested spans left out
by it are not warned about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from ..data.corpus import Corpus
from ..errors import ConfigError, DataFormatError
from ..data.sentence import STATUSES, TRUSTED, Sentence
from . import conll, doccano, jsonl, labelstudio, spacy_spans, text
from ..io.atomic import atomic_write_bytes
from ._io import Source, check_nonempty, decode, first_record

__all__ = [
    "FORMATS",
    "Format",
    "detect_format",
    "dumps_corpus",
    "read_corpus",
    "read_corpus_bytes",
    "write_corpus",
]


class Format(NamedTuple):
    """A registry entry. ``reader(text, source, status=...)`` returns
    ``[(line, sentence)]``; ``writer(sentences, statuses)`` returns
    ``(text, warnings)``."""

    reader: Callable[..., list[tuple[int, Sentence]]]
    writer: Callable[[Sequence[Sentence], Sequence[str]], tuple[str, list[str]]]
    extensions: tuple[str, ...]
    description: str


_JSONL = (".jsonl", ".ndjson")

FORMATS: dict[str, Format] = {
    "jsonl": Format(jsonl.read, jsonl.write, _JSONL, 'JSONL tokens/tags: {"id", "tokens", "tags"} per line'),
    "conll": Format(
        conll.read, conll.write, (".conll", ".bio", ".iob", ".tsv"), "CoNLL/BIO: token per line, tag last, IOB2"
    ),
    "doccano": Format(doccano.read, doccano.write, _JSONL, 'doccano JSONL: {"text", "label": [[start, end, "LABEL"]]}'),
    "labelstudio": Format(
        labelstudio.read, labelstudio.write, (".json",), "Label Studio JSON tasks with annotations and predictions"
    ),
    "spacy": Format(
        spacy_spans.read, spacy_spans.write, _JSONL, 'spaCy-style JSONL: {"id", "text", "spans": [{start, end, label}]}'
    ),
    "text": Format(text.read, text.write, (".txt",), "plain text, one sentence per line, unlabeled"),
}


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
        f"cannot tell the format from the extension {suffix or '(none)'!r} (known: {known}); "
        f"pass fmt= one of {', '.join(FORMATS)}"
    )
    return found, why


def detect_format(filename: str, content: str) -> str:
    """The format of a file from its extension, and for ``.jsonl`` from the
    keys of its first record. ``content`` is the decoded text."""
    found, why = _candidates(filename)
    if not found:
        raise DataFormatError(why, path=filename)
    if len(found) == 1:
        return found[0]
    line, record = first_record(content, Source(filename))
    keys = set(record)
    if {"tokens", "tags"} <= keys:
        return "jsonl"
    if keys & {"label", "labels"}:
        return "doccano"
    if "spans" in keys:
        return "spacy"
    raise DataFormatError(
        f"cannot tell the JSONL format from the keys of the first record ({', '.join(sorted(keys)) or 'none'}); "
        "expected 'tokens' and 'tags' (jsonl), 'text' and 'label' or 'labels' (doccano), "
        "or 'text' and 'spans' (spacy); or pass fmt=",
        path=filename,
        line=line,
    )


def read_corpus_bytes(data: bytes, filename: str, fmt: str | None = None, *, status: str = "gold") -> Corpus:
    """Read an upload: the same checks as :func:`read_corpus`, with
    ``filename`` naming it in messages and telling its format."""
    if status not in STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    src = Source(filename)
    content = decode(data, filename)
    check_nonempty(content, src)
    fmt = _format_name(fmt) if fmt else detect_format(filename, content)
    items = FORMATS[fmt].reader(content, src, status=status)
    if not items:
        raise src.error("no sentences found", content.count("\n") + (0 if content.endswith("\n") else 1))
    first_line: dict[str, int] = {}
    for line, sentence in items:
        if sentence.id in first_line:
            raise src.error(f"duplicate id {sentence.id!r} (first used on line {first_line[sentence.id]})", line)
        first_line[sentence.id] = line
    return Corpus([s for _, s in items], src.warnings(), filename, fmt)


def read_corpus(path: str | Path, fmt: str | None = None, *, status: str = "gold") -> Corpus:
    """Read a corpus file; ``fmt`` overrides the format told from the file.

    Spans read get ``status`` (Label Studio predictions are always
    ``suggested``; spaCy-style spans may carry their own). Raises
    ``DataFormatError`` naming the file and line of the first problem.
    """
    path = Path(path)
    return read_corpus_bytes(path.read_bytes(), str(path), fmt, status=status)


def _statuses(statuses: Iterable[str] | str) -> tuple[str, ...]:
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise ConfigError(f"statuses {bad} are not among {', '.join(STATUSES)}")
    return statuses


def dumps_corpus(
    sentences: Iterable[Sentence] | Corpus, fmt: str, *, statuses: Iterable[str] = TRUSTED
) -> tuple[str, list[str]]:
    """The file content for ``sentences`` in ``fmt``, and the warnings
    (each span that could not be written, listed). Encode as UTF-8 for bytes."""
    return FORMATS[_format_name(fmt)].writer(list(sentences), _statuses(statuses))


def write_corpus(
    sentences: Iterable[Sentence] | Corpus,
    path: str | Path,
    fmt: str | None = None,
    *,
    statuses: Iterable[str] = TRUSTED,
) -> list[str]:
    """Write ``sentences`` to ``path`` atomically; returns the warnings.

    ``fmt`` defaults to the one the extension names. A ``.jsonl`` path could
    be jsonl, doccano or spacy: a :class:`Corpus` read from one of those is
    written back in it, anything else needs ``fmt``.
    """
    if fmt is None:
        found, why = _candidates(str(path))
        own = sentences.format if isinstance(sentences, Corpus) else None
        if not found:
            raise ConfigError(why)
        if len(found) == 1 or own in found:
            fmt = found[0] if len(found) == 1 else own
        else:
            raise ConfigError(f"a {Path(path).suffix} file can hold {', '.join(found)}; pass fmt= to choose")
    content, warnings = dumps_corpus(sentences, fmt, statuses=statuses)
    atomic_write_bytes(path, content.encode("utf-8"))
    return warnings
