"""Checks shared by the span formats (doccano, spaCy, Label Studio).

A record's spans arrive as raw JSON values. :func:`span_sentence` checks each
one and says which record and span is wrong, then builds the sentence. Beyond
the checks, it repairs three things users' files commonly carry, and notes
each repair: offsets counted in UTF-16 code units (what browsers count; only
detectable when the span's text is stored), ``\\r\\n`` inside a text (offsets
are remapped onto the normalised text), and whitespace at a span's edges
(trimmed, since a selection must not swallow it silently).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import DataFormatError
from ..data.sentence import STATUSES, Sentence, Span, normalize_text
from ._io import Source, a_kind, json_kind

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class RawSpan:
    """A span as the file gave it; ``where`` names it in messages."""

    start: object
    end: object
    label: object
    where: str
    text: object = None
    status: object = None
    source: object = None
    score: object = None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def record_id(value: object, fallback: str, src: Source, line: int, where: str = "") -> str:
    """A record's id as a string: ints are accepted (doccano and Label Studio
    number their records), anything else but a non-empty string is an error."""
    if value is None:
        return fallback
    if is_int(value):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise src.error(f"{where}'id' must be a non-empty string or an integer, got {json_kind(value)} {value!r}", line)


def require(record: dict, key: str, kind: type, src: Source, line: int, where: str = "") -> object:
    """``record[key]``, which must exist and be of ``kind`` (``str``, ``list``, ``dict``)."""
    if key not in record:
        keys = ", ".join(repr(k) for k in record) or "none"
        raise src.error(f"{where}missing key {key!r} (keys present: {keys})", line)
    value = record[key]
    if not isinstance(value, kind):
        expected = {str: "a string", list: "a list", dict: "an object"}[kind]
        raise src.error(f"{where}{key!r} must be {expected}, got {json_kind(value)}", line)
    return value


def span_items(spans: list, src: Source, line: int) -> Iterator[tuple[str, dict]]:
    """Each item of a record's ``spans`` list with its name in messages
    (``"span n"``), checked to be an object with ``start``, ``end`` and
    ``label`` (their values are checked by :func:`span_sentence`)."""
    for n, item in enumerate(spans, 1):
        where = f"span {n}"
        if not isinstance(item, dict):
            raise src.error(f"{where} must be an object {{start, end, label}}, got {a_kind(item)}", line)
        for key in ("start", "end", "label"):
            require(item, key, object, src, line, f"{where}: ")
        yield where, item


def raw_span(item: dict, where: str) -> RawSpan:
    """The :class:`RawSpan` of a span object checked by :func:`span_items`."""
    return RawSpan(item["start"], item["end"], item["label"], where, item.get("text"), item.get("status"),
                   item.get("source"), item.get("score"))


def check_text(text: str, src: Source, line: int, where: str = "") -> None:
    m = _SURROGATE.search(text)
    if m:
        raise src.error(
            f"{where}text has an unpaired UTF-16 surrogate {ascii(m.group())} at character {m.start()}; "
            "the text was cut inside an astral character (such as an emoji) before it was saved",
            line,
        )


def _from_utf16(text: str, offset: int) -> int | None:
    """Code-point index of a UTF-16 offset, or None if it splits a pair."""
    units = 0
    for i, ch in enumerate(text):
        if units >= offset:
            return i if units == offset else None
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text) if units == offset else None


def _check_offsets(raw: RawSpan, text: str, src: Source, line: int) -> tuple[int, int, str]:
    where = raw.where
    for name, value in (("start", raw.start), ("end", raw.end)):
        if not is_int(value):
            raise src.error(f"{where}: {name!r} must be an integer, got {json_kind(value)} {value!r}", line)
    label = raw.label
    if not isinstance(label, str) or not label.strip():
        raise src.error(f"{where}: the label must be a non-empty string, got {json_kind(label)} {label!r}", line)
    if any(ch.isspace() for ch in label):
        raise src.error(
            f"{where}: label {label!r} contains whitespace; labels become BIO tags, which cannot hold it", line
        )
    start, end = raw.start, raw.end
    if start > end:
        raise src.error(f"{where}: start {start} is after end {end}", line)
    if start == end:
        raise src.error(f"{where}: span [{start}, {end}) {label} is empty", line)
    stored = raw.text
    if stored is not None and not isinstance(stored, str):
        raise src.error(f"{where}: the span's 'text' must be a string, got {json_kind(stored)}", line)
    if start >= 0 and end <= len(text) and (stored is None or text[start:end] == stored):
        return start, end, label
    if stored is not None and start >= 0:
        a, b = _from_utf16(text, start), _from_utf16(text, end)
        if a is not None and b is not None and text[a:b] == stored:
            src.note(
                "span offsets counted in UTF-16 code units (as browsers count), converted to code points",
                f"line {line}: {where} [{start}, {end}) -> [{a}, {b})",
            )
            return a, b, label
    if start < 0 or end > len(text):
        raise src.error(f"{where}: span [{start}, {end}) {label} lies outside the text (length {len(text)})", line)
    raise src.error(
        f"{where}: the span says {stored!r} but the text at [{start}, {end}) is {text[start:end]!r}", line
    )


def span_provenance(raw: RawSpan, src: Source, line: int) -> tuple[str | None, float | None]:
    """A span's ``source`` (a non-empty string) and ``score`` (a number), when given."""
    source, score = raw.source, raw.score
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise src.error(f"{raw.where}: 'source' must be a non-empty string, got {json_kind(source)} {source!r}", line)
    if score is not None:
        if not isinstance(score, (int, float)) or isinstance(score, bool) or score != score:
            raise src.error(f"{raw.where}: 'score' must be a number, got {json_kind(score)} {score!r}", line)
        score = float(score)
    return source, score


def span_sentence(
    sid: str,
    text: str,
    raw_spans: list[RawSpan],
    src: Source,
    line: int,
    *,
    status: str,
    meta: dict | None = None,
    where: str = "",
) -> Sentence:
    """Check raw spans against ``text`` and build the sentence.

    Offsets are code points into ``text`` as stored in the file (before
    ``\\r\\n`` is normalised). Raises ``DataFormatError`` at ``line``.
    """
    check_text(text, src, line, where)
    offsets = [(_check_offsets(raw, text, src, line), raw) for raw in raw_spans]
    norm = normalize_text(text)
    # Each "\r\n" loses its "\n"; an offset moves left by the losses before it.
    lost = [i + 1 for i in range(len(text) - 1) if text[i] == "\r" and text[i + 1] == "\n"] if "\r" in text else []
    spans: list[Span] = []
    seen: set[tuple] = set()
    for (start, end, label), raw in offsets:
        st = status if raw.status is None else raw.status
        if st not in STATUSES:
            raise src.error(f"{raw.where}: status {st!r} is not one of {', '.join(STATUSES)}", line)
        a0, b0 = start - bisect_left(lost, start), end - bisect_left(lost, end)
        a, b = a0, b0
        while a < b and norm[a].isspace():
            a += 1
        while b > a and norm[b - 1].isspace():
            b -= 1
        if a == b:
            src.note("span of whitespace only, dropped", f"line {line}: {raw.where} [{start}, {end}) {label}")
            continue
        if (a, b) != (a0, b0):
            src.note(
                "span with whitespace at its edges, trimmed",
                f"line {line}: {raw.where} {text[start:end]!r} -> {norm[a:b]!r}",
            )
        key = (a, b, label, st)
        if key in seen:
            src.note("duplicate span, kept once", f"line {line}: {raw.where} [{a}, {b}) {label}")
            continue
        seen.add(key)
        spans.append(Span(a, b, label, norm[a:b], st, *span_provenance(raw, src, line)))
    try:
        return Sentence.from_text(sid, norm, spans, status=status, meta=meta)
    except DataFormatError as exc:  # the model's own checks, located here
        raise src.error(f"{where}{exc.reason}", line) from None
