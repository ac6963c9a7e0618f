"""Reading a corpus file a chunk of sentences at a time, and writing one as
it comes: what lets ``allabel predict`` label a 100k-sentence file in
bounded memory.

:class:`StreamedCorpus` reads the one-record-per-line formats whose readers
decide nothing over the whole file (``jsonl-text``, ``spacy``, ``doccano``,
``prodigy`` JSONL and plain ``text``) in blocks of lines, each block given to
the format's own reader with its line numbers kept, so a sentence, its
``line-N`` id, every error and every warning are exactly what
:func:`~allabel_core.formats.read_corpus` gives. The file is read twice:
once to check all of it (bad input changes nothing: the error comes before
any sentence is used; duplicate ids; the count, for progress), keeping only
each id and its line, then again a chunk at a time. The other formats
(CoNLL and JSONL tokens/tags, whose IOB1 repair is decided over the whole
file; tables, Label Studio, a JSONL file that is one JSON array) are read
whole with :func:`read_corpus` and handed out in chunks: right, but not
bounded (``streamed`` says which).

:class:`ChunkWriter` writes sentences to a file chunk by chunk in any format.
JSON-lines formats (:data:`APPENDABLE`) are appended to the file itself,
flushed after each chunk (and forced to disk every few seconds), so a
stopped run leaves whole records; the others
go to a temporary file beside it, renamed over the target when
:meth:`ChunkWriter.finish` is called (CoNLL and plain text a chunk at a
time; Label Studio and tables, whose writers number tasks or choose columns
over every sentence, hold the sentences until then).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from ..data.corpus import Corpus
from ..data.sentence import STATUSES, Sentence
from ..errors import ConfigError
from ._io import Source, decode
from .sniff import _SAMPLE_LINES, jsonl_kind

STREAMED = ("jsonl-text", "spacy", "doccano", "prodigy", "text")
APPENDABLE = ("jsonl", "jsonl-text", "spacy", "doccano", "prodigy")  # one JSON record per line, with its id
_JSONL = (".jsonl", ".ndjson")
BLOCK = 2000  # lines given to a reader at a time
SYNC_EVERY = 5.0  # seconds between forcing appended records to disk (each one 5-15 ms on a busy disk)


def _lines(path: Path) -> Iterator[str]:
    """The file's lines without their ends (``\\r\\n`` and ``\\r`` count as
    ``\\n``, as :func:`~._io.decode` reads them), a UTF-8 BOM dropped. Not
    UTF-8 (or UTF-16): the error :func:`decode` gives, with its line."""
    with open(path, "rb") as raw:
        head = raw.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        decode(head, str(path))
    try:
        with open(path, encoding="utf-8", newline=None) as f:
            for n, line in enumerate(f):
                if n == 0 and line.startswith("\ufeff"):
                    line = line[1:]
                yield line[:-1] if line.endswith("\n") else line
    except UnicodeDecodeError:
        decode(path.read_bytes(), str(path))  # raises, naming the line and byte
        raise


def _blocks(path: Path, size: int = BLOCK) -> Iterator[str]:
    """The file as texts of ``size`` lines each, every one preceded by as
    many empty lines as come before it, so that a reader numbers its lines
    as in the whole file (blank lines are skipped by every streamed reader)."""
    buf: list[str] = []
    first = 1
    number = 0
    for number, line in enumerate(_lines(path), 1):
        buf.append(line)
        if len(buf) >= size:
            yield "\n" * (first - 1) + "\n".join(buf)
            buf, first = [], number + 1
    if buf:
        yield "\n" * (first - 1) + "\n".join(buf)


def _sample(path: Path) -> str:
    """The first lines of the file (as many as sniffing looks at)."""
    lines = []
    for line in _lines(path):
        if len(lines) == _SAMPLE_LINES:
            break
        lines.append(line)
    return "\n".join(lines)


def _jsonl_kind(path: Path, src: Source) -> str | None:
    """:func:`~.sniff.jsonl_kind` over every record of a JSONL file, holding
    one record per distinct set of keys (all the rule looks at) instead of
    the records; None when a line is not a JSON object (the whole-file
    reader then says so in its own words)."""
    import json

    first: tuple[int, dict] | None = None
    keysets: dict[frozenset, int] = {}
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        if first is None:
            first = (number, record)
        keysets.setdefault(frozenset(record), number)
    if first is None:
        return None
    return jsonl_kind([first, *((n, dict.fromkeys(k)) for k, n in keysets.items())], src)


def _json_lines_shape(sample: str) -> bool:
    """Whether a .jsonl file is JSON lines, not one JSON document (an array,
    or one object spread over lines), as :func:`~._io.json_records` tells."""
    stripped = sample.lstrip(" \t\n\r")
    if not stripped.startswith("{"):
        return False
    first_line = stripped.split("\n", 1)[0].strip()
    return "\n" not in stripped.rstrip() or first_line.endswith("}")


class StreamedCorpus:
    """A corpus file read ``chunk`` sentences at a time (see the module
    docstring). After construction the whole file has been checked:
    ``len()`` is its number of sentences, ``format`` its format,
    ``warnings`` what reading it reported, ``ids`` its sentence ids (a
    set), ``has_gold()`` whether any span is gold. :meth:`chunks` reads it
    again, in order. ``status`` and the reader options as for
    :func:`~allabel_core.formats.read_corpus`."""

    def __init__(self, path: str | Path, fmt: str | None = None, *, status: str = "gold", **options):
        from . import FORMATS, _options, choose_format, read_corpus

        if status not in STATUSES:
            raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        self.path = Path(path)
        self.source = str(path)
        self._status = status
        given = {k: v for k, v in options.items() if v is not None}
        if not self.path.is_file():
            read_corpus(self.path, fmt, status=status, **given)  # the error it gives for a missing file
        sample = _sample(self.path)
        self._whole: Corpus | None = None
        src = Source(self.source)
        suffix = self.path.suffix.lower()
        told = fmt
        if told is None and sample.strip():
            # Told as read_corpus tells it: a .jsonl file by the keys of all its
            # records, a .txt file by its first lines (all that sniffing reads).
            if suffix in _JSONL and _json_lines_shape(sample):
                wants_table = any(given.get(k) is not None for k in ("text_column", "id_column"))
                told = "jsonl-text" if wants_table else _jsonl_kind(self.path, src)
            elif suffix == ".txt":
                told, _ = choose_format(self.source, sample, None, given, src)
        if not sample.strip() or told not in STREAMED or (told != "text" and not _json_lines_shape(sample)):
            self._whole = read_corpus(self.path, fmt, status=status, **given)
            self.format = self._whole.format
            self.warnings = list(self._whole.warnings)
            self.ids = set(self._whole.ids)
            self._count = len(self._whole)
            self._gold = self._whole.has_gold()
            self.streamed = False
            return
        fmt = told
        self.format = fmt
        self._options = _options(fmt, given, FORMATS[fmt].options, "read")
        self._reader = FORMATS[fmt].reader
        self.streamed = True
        first_line: dict[str, int] = {}
        gold = False
        last = 0
        for text in _blocks(self.path):
            for line, sentence in self._reader(text, src, status=status, **self._options):
                if sentence.id in first_line:
                    raise src.error(f"duplicate id {sentence.id!r} (first used on line {first_line[sentence.id]})", line)
                first_line[sentence.id] = line
                gold = gold or any(sp.status == "gold" for sp in sentence.spans)
            last = text.count("\n") + 1
        if not first_line:
            raise src.error("no sentences found", last)
        self.warnings = src.warnings()
        self.ids = set(first_line)
        self._count = len(first_line)
        self._gold = gold

    def __len__(self) -> int:
        return self._count

    def has_gold(self) -> bool:
        return self._gold

    def chunks(self, size: int) -> Iterator[list[Sentence]]:
        """The sentences in file order, ``size`` at a time (the last chunk
        may be shorter)."""
        size = max(1, int(size))
        if self._whole is not None:
            for lo in range(0, len(self._whole), size):
                yield list(self._whole.sentences[lo:lo + size])
            return
        buf: list[Sentence] = []
        src = Source(self.source)  # its warnings were reported by the checking pass
        for text in _blocks(self.path):
            for _, sentence in self._reader(text, src, status=self._status, **self._options):
                buf.append(sentence)
                if len(buf) == size:
                    yield buf
                    buf = []
        if buf:
            yield buf

    def __iter__(self) -> Iterator[Sentence]:
        for chunk in self.chunks(BLOCK):
            yield from chunk


class ChunkWriter:
    """Writes sentences to ``path`` in ``fmt`` a chunk at a time (see the
    module docstring). ``append=True`` (an :data:`APPENDABLE` format only)
    continues an existing file instead of replacing it. Writer ``statuses``
    and ``options`` as for :func:`~allabel_core.formats.write_corpus`.
    Use as a context manager, or call :meth:`finish` (and :meth:`abort` on
    failure); the warnings of every chunk are in ``warnings``."""

    def __init__(self, path: str | Path, fmt: str, *, statuses=("suggested",), append: bool = False, **options):
        from . import FORMATS, _format_name, _options, _statuses

        self.path = Path(path)
        self.format = _format_name(fmt)
        self.appends = self.format in APPENDABLE
        if append and not self.appends:
            raise ConfigError(f"a {fmt} file cannot be continued; it is written whole")
        self._statuses = _statuses(statuses)
        self._options = _options(self.format, options, FORMATS[self.format].write_options, "write")
        self._writer = FORMATS[self.format].writer
        self._held: list[Sentence] | None = [] if self.format in ("labelstudio", "table") else None
        self.warnings: list[str] = []
        self.written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.appends:
            self._target = self.path
            self._file = open(self.path, "ab" if append else "wb")
        else:
            self._target = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
            self._file = open(self._target, "wb")
        self._started = False
        self._synced = time.monotonic()

    def write(self, sentences: list[Sentence]) -> None:
        """Write (or, for Label Studio and tables, keep) one chunk; JSON
        lines are flushed to disk before this returns."""
        if self._held is not None:
            self._held.extend(sentences)
            return
        text, warnings = self._writer(list(sentences), self._statuses, **self._options)
        self.warnings.extend(warnings)
        if self.format == "conll" and self._started and text:
            text = "\n" + text  # CoNLL sentences are separated by a blank line
        self._file.write(text.encode("utf-8"))
        self._started = self._started or bool(text)
        self.written += len(sentences)
        if self.appends:
            self._file.flush()  # in the system's hands: a killed process loses nothing written
            now = time.monotonic()
            if now - self._synced >= SYNC_EVERY:
                os.fsync(self._file.fileno())  # on disk: a power cut loses at most the last seconds
                self._synced = now

    def finish(self) -> None:
        """Close the file; a format written whole is renamed over ``path``."""
        if self._held is not None:
            text, warnings = self._writer(self._held, self._statuses, **self._options)
            self.warnings.extend(warnings)
            self._file.write(text.encode("utf-8"))
            self.written += len(self._held)
            self._held = []
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._target != self.path:
            if self.path.exists():
                os.chmod(self._target, self.path.stat().st_mode & 0o7777)
            os.replace(self._target, self.path)

    def abort(self) -> None:
        """Close without finishing: appended records stay (whole ones), a
        temporary file is removed and ``path`` is left as it was."""
        self._file.close()
        if self._target != self.path:
            self._target.unlink(missing_ok=True)

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind, *_exc) -> None:
        if kind is None:
            self.finish()
        else:
            self.abort()
