"""Bytes in, text out; JSON records (lines or one array) with their line numbers.

Shared by every format module. A :class:`Source` carries the name a person
knows the file by (a path, or an upload's filename) so that every error and
warning can say where it happened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ..errors import DataFormatError
from ..data.sentence import normalize_text

# Enough places to find the pattern; the count says how many there were.
MAX_LISTED = 10


class Source:
    """The file being read: its display name and the warnings it produced.

    Warnings of one kind are grouped (``note``) so a file with thousands of
    repairs yields one line per kind, with the count and the first places.
    """

    def __init__(self, path: str):
        self.path = path
        self._notes: dict[str, list[str]] = {}
        self._plain: list[str] = []

    def error(self, reason: str, line: int | None) -> DataFormatError:
        return DataFormatError(reason, path=self.path, line=line)

    def warn(self, message: str) -> None:
        self._plain.append(f"{self.path}: {message}")

    def note(self, kind: str, place: str) -> None:
        self._notes.setdefault(kind, []).append(place)

    def warnings(self) -> list[str]:
        out = list(self._plain)
        for kind, places in self._notes.items():
            shown = "; ".join(places[:MAX_LISTED])
            if len(places) > MAX_LISTED:
                shown += f"; and {len(places) - MAX_LISTED} more"
            out.append(f"{self.path}: {kind} ({len(places)}x): {shown}")
        return out


def decode(data: bytes, path: str) -> str:
    """UTF-8 bytes to text with ``\\n`` line endings and without a BOM.

    Raises ``DataFormatError`` naming the byte offset and line of the first
    byte that is not UTF-8.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFormatError(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8", path=path, line=1
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex().upper()
        raise DataFormatError(
            f"not valid UTF-8: byte 0x{bad} at byte offset {exc.start} (column {column} in bytes); "
            "save the file as UTF-8",
            path=path,
            line=line,
        ) from None
    # A BOM is what Windows editors put in front of UTF-8; it is not content.
    if text.startswith("\ufeff"):
        text = text[1:]
    return normalize_text(text)


def check_nonempty(text: str, src: Source) -> None:
    """Raise for an empty file or one with only blank lines."""
    if not text:
        raise src.error("the file is empty", 1)
    if text.isspace():  # (not text.strip(), without copying the file)
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise src.error(f"the file has only blank lines ({lines}); there is nothing to read", lines)


def json_kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def a_kind(value: object) -> str:
    """``json_kind`` with its article: "an object", "a list", "null"."""
    kind = json_kind(value)
    return kind if kind == "null" else ("an " if kind[0] in "aeiou" else "a ") + kind


def parse_json(line_text: str, src: Source, line: int) -> object:
    try:
        return json.loads(line_text)
    except json.JSONDecodeError as exc:
        raise src.error(f"invalid JSON: {exc.msg} (column {exc.colno})", line) from None


_WS = re.compile(r"[ \t\n\r]*")
_BLANK = re.compile(r"\s*")


class _Lines:
    """Line numbers of increasing offsets, counted once."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def json_array(text: str, src: Source, what: str = "records") -> list[tuple[int, object]]:
    """``(line, value)`` for each element of a top-level JSON array, the line
    where each element starts; errors say "record N" and its line."""
    line_of, decoder = _Lines(text), json.JSONDecoder()
    pos = _WS.match(text).end()
    items: list[tuple[int, object]] = []
    opened = line_of(pos)
    pos = _WS.match(text, pos + 1).end()
    closed = pos < len(text) and text[pos] == "]"
    while not closed:
        start = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            reason = f"record {len(items) + 1}: invalid JSON: {exc.msg} (column {exc.colno})"
            raise src.error(reason, exc.lineno) from None
        items.append((line_of(start), value))
        pos = _WS.match(text, pos).end()
        if pos >= len(text):
            raise src.error(f"the array of {what} is not closed: ']' is missing at the end", line_of(len(text)))
        if text[pos] == "]":
            closed = True
        elif text[pos] == ",":
            pos = _WS.match(text, pos + 1).end()
        else:
            raise src.error(f"record {len(items)}: expected ',' or ']' after it, found {text[pos]!r}", line_of(pos))
    pos = _WS.match(text, pos + 1).end()
    if pos < len(text):
        raise src.error(f"unexpected {text[pos:pos + 20]!r} after the array of {what}", line_of(pos))
    if not items:
        raise src.error(f"the array holds no {what}", opened)
    return items


def _one_document(text: str) -> tuple[int, object] | None:
    """The value and its line when the whole text is one JSON array or one
    object spread over several lines (a .json file, or a pretty-printed record)."""
    stripped = text.lstrip(" \t\n\r")
    # Looked at in place: slicing or stripping a 40 MB file would copy it.
    nl = stripped.find("\n")
    first_line = (stripped if nl < 0 else stripped[:nl]).strip()
    if stripped.startswith("{"):
        if nl < 0 or _BLANK.fullmatch(stripped, nl) or first_line.endswith("}"):
            return None  # JSON lines
    elif not stripped.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return text.count("\n", 0, len(text) - len(stripped)) + 1, value


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for each line of ``text`` (from 1, without its
    ``\\n``), one at a time: a big file's lines are never all held as strings."""
    start, number, end = 0, 1, len(text)
    while start <= end:
        stop = text.find("\n", start)
        if stop < 0:
            stop = end
        yield number, text[start:stop]
        start, number = stop + 1, number + 1


def json_records(text: str, src: Source) -> Iterator[tuple[int, dict]]:
    """``(line, object)`` for every non-blank line of a JSONL file; also for
    each element of a file that is one JSON array of objects (line: where
    the element starts), or one object spread over several lines."""
    document = _one_document(text)
    if document is not None:
        line, value = document
        items = json_array(text, src) if isinstance(value, list) else [(line, value)]
        for number, record in items:
            if not isinstance(record, dict):
                raise src.error(f"expected a JSON object {{...}} for each record, found {a_kind(record)}", number)
            yield number, record
        return
    for number, line_text in iter_lines(text):
        if not line_text.strip():
            continue
        if line_text.strip() in ("{", "["):
            raise src.error(
                f"a JSON value spread over several lines ({line_text.strip()!r} alone on its line); "
                "JSONL holds one record per line (a .json file may hold one array)",
                number,
            )
        record = parse_json(line_text, src, number)
        if not isinstance(record, dict):
            raise src.error(f"expected a JSON object {{...}} on each line, found {a_kind(record)}", number)
        yield number, record


def first_record(text: str, src: Source) -> tuple[int, dict]:
    """The first JSON record of a JSONL file (for sniffing its format)."""
    for item in json_records(text, src):
        return item
    raise src.error("no records found", 1)


def json_meta(sentence, warnings: list[str], exclude=()) -> dict | None:
    """A sentence's ``meta`` (without the keys in ``exclude``, which the
    format holds elsewhere) to write as a JSON object (a prediction's
    outcome and uncertainty, say), or None when empty; one warning, and
    nothing written, when it is not JSON-serialisable."""
    meta = {k: v for k, v in sentence.meta.items() if k not in exclude}
    if not meta:
        return None
    try:
        json.dumps(meta)
    except (TypeError, ValueError):
        warnings.append(f"sentence {sentence.id!r}: meta not written, it is not JSON-serialisable")
        return None
    return meta
