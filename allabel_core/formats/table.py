"""Tables of sentences: ``.csv`` or ``.tsv`` with a header row and a text column.

The first row names the columns. The text is in the column ``text_column=``
names (matched exactly, then ignoring case); without it, a column called
``text`` or ``sentence`` (any case), or the only column there is. A column
called ``id`` (any case; or the one ``id_column=`` names) gives the
sentence ids, else ``line-N``, N the line the row starts on. Every other
column is kept in the sentence's meta, as strings. Cells follow the CSV rules
(Python's :mod:`csv`: quoted cells may hold the delimiter and line breaks).
The delimiter is ``,`` for ``.csv`` and a tab for ``.tsv``; for other names,
a tab if the header has one, else ``,``. A row with an empty text cell is
skipped with a note; a row with more or fewer cells than the header, a
missing column or an empty id is an error naming its line.

Writing gives ``id``, ``text`` and the meta keys every sentence shares
(comma-separated); spans are not written (one warning says how many).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import DataFormatError
from ..data.sentence import Sentence
from ._io import Source

TEXT_NAMES = ("text", "sentence")


def delimiter(path: str, first_line: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix in (".tsv", ".tab"):
        return "\t"
    return "\t" if "\t" in first_line else ","


def find_column(header: list[str], name: str | None, defaults: Sequence[str], what: str) -> int | None:
    """The index of the column ``name`` (exactly, then ignoring case), or of
    the first of ``defaults`` present; None if neither is there."""
    wanted = [name] if name is not None else list(defaults)
    for want in wanted:
        if want in header:
            return header.index(want)
        lowered = [h.strip().lower() for h in header]
        if want.strip().lower() in lowered:
            return lowered.index(want.strip().lower())
    return None


def _columns(header: list[str]) -> str:
    return ", ".join(repr(h) for h in header)


def header(text: str, src: Source) -> list[str]:
    """The column names of a table (its first non-blank row)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(src.path, _first_line(text)))
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                return row
    except csv.Error as exc:
        raise src.error(f"not a valid table: {exc}", reader.line_num) from None
    raise src.error("the file has no rows", 1)


def _first_line(text: str) -> str:
    stop = text.find("\n")
    return text if stop < 0 else text[:stop]


def _physical_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their ``\\n``, one at a time, for
    :func:`csv.reader` (an ``io.StringIO`` would hold a second, wider copy)."""
    start = 0
    while start < len(text):
        stop = text.find("\n", start)
        stop = len(text) if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def _rows(reader, src: Source, delim: str) -> Iterator[tuple[int, list[str]]]:
    """``(line the row starts on, cells)`` for each row with a non-blank cell."""
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise src.error(f"not a valid {'CSV' if delim == ',' else 'TSV'} table: {exc}", reader.line_num) from None


def read(
    text: str, src: Source, *, status: str, text_column: str | None = None, id_column: str | None = None
) -> Iterator[tuple[int, Sentence]]:
    delim = delimiter(src.path, _first_line(text))
    rows = _rows(csv.reader(_physical_lines(text), delimiter=delim), src, delim)
    header_line, header = next(rows, (None, None))
    if header is None:
        raise src.error("the file has no rows", 1)
    tcol = find_column(header, text_column, TEXT_NAMES, "text")
    if tcol is None and text_column is None and len(header) == 1:
        tcol = 0
    if tcol is None:
        asked = f"no column {text_column!r}" if text_column is not None else "no text column"
        how = "" if text_column is not None else " (a column named 'text' or 'sentence' is found by itself)"
        raise src.error(
            f"{asked}: the header has {len(header)} column(s): {_columns(header)}; "
            f"pass text_column= (CLI --text-column) naming one of them{how}",
            header_line,
        )
    icol = find_column(header, id_column, ("id",), "id")
    if icol is None and id_column is not None:
        raise src.error(f"no column {id_column!r} for the ids: the header has {_columns(header)}", header_line)
    if icol == tcol:
        icol = None
    any_row = False
    for line, row in rows:
        any_row = True
        if len(row) != len(header):
            raise src.error(
                f"{len(row)} cells, but the header (line {header_line}) has {len(header)} columns; "
                f"{'quote cells that hold a comma' if delim == ',' else 'a cell may not hold a tab'}",
                line,
            )
        body = row[tcol].strip()
        if not body:
            src.note(f"row with an empty {header[tcol]!r} cell skipped", f"line {line}")
            continue
        sid = f"line-{line}"
        if icol is not None:
            sid = row[icol].strip()
            if not sid:
                raise src.error(f"the {header[icol]!r} cell is empty; every row needs an id, or none", line)
        meta = {h: v for k, (h, v) in enumerate(zip(header, row)) if k not in (tcol, icol)}
        try:
            sentence = Sentence.from_text(sid, body, meta=meta)
        except DataFormatError as exc:
            raise src.error(exc.reason, line) from None
        yield line, sentence
    if not any_row:
        raise src.error(f"the table has a header ({_columns(header)}) but no rows", header_line)


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    warnings = []
    shared = None
    for s in sentences:
        names = [k for k, v in s.meta.items() if isinstance(v, (str, int, float)) and k not in ("id", "text")]
        shared = names if shared is None else [k for k in shared if k in names]
    shared = shared or []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "text", *shared])
    n_spans = 0
    for s in sentences:
        n_spans += len(s.spans_with(statuses))
        w.writerow([s.id, s.text, *(s.meta[k] for k in shared)])
    if n_spans:
        warnings.append(f"{n_spans} spans not written: a table of sentences holds no labels")
    return buf.getvalue(), warnings
