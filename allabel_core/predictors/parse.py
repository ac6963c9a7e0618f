"""Tolerant parsing of an LLM's entity answer, and grounding it in the text.

An answer is meant to be JSON ``[{"text": ..., "label": ...}]`` (or, in JSON
mode, ``{"entities": [...]}``). Small models wrap it in code fences, add
prose, use single quotes, leave trailing commas or stop mid-list; all of that
is accepted, and whatever still cannot be read is counted, never silently
dropped. Grounding follows the method (METHOD.md, "Prediction with
demonstration retrieval"): each entity string is searched in the sentence,
exact match first, then case-insensitive; every occurrence becomes a span
unless it overlaps one already taken; edges are snapped to token boundaries;
strings not found are skipped and counted, and so are labels outside the
schema (after normalising case and whitespace).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..data.sentence import Sentence, Span

_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")
_JSON_START = re.compile(r"[\[{]\s*(?:[\"'{\[\]}]|$)")
_TEXT_KEYS = ("text", "entity", "span", "mention", "name", "value")
_LABEL_KEYS = ("label", "type", "entity_type", "category", "tag")
_LIST_KEYS = ("entities", "entity", "spans", "results", "items", "answer", "output")

COUNT_KEYS = (
    "answers",  # answers parsed (one per model reply)
    "unparseable",  # replies with no readable JSON at all (empty, garbage)
    "salvaged",  # replies cut short or malformed, of which some entities were read
    "truncated",  # replies cut short (JSON never closed, or the server says max_tokens was hit)
    "malformed_items",  # list items without a text and a label
    "entities",  # (text, label) pairs read
    "invented_labels",  # labels outside the schema, dropped
    "ungrounded",  # entity strings not found in the sentence, skipped
    "overlapping",  # entity strings whose every occurrence overlaps a span already taken
    "snapped",  # spans widened to token boundaries
    "spans",  # spans kept
)


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


@dataclass(frozen=True)
class ParsedAnswer:
    """The ``(text, label)`` pairs read from one reply, in answer order.

    ``ok`` is False when nothing readable was found (``problem`` says why);
    ``salvaged`` when the reply was broken but some entities were recovered;
    ``cut`` when its JSON opens and never closes (the reply was cut short).
    """

    items: tuple[tuple[str, str], ...]
    ok: bool
    problem: str | None = None
    salvaged: bool = False
    malformed_items: int = 0
    cut: bool = False


# -- reading the reply --------------------------------------------------------


def _strip_fences(text: str) -> str:
    blocks = _FENCE.findall(text)
    if blocks:
        # The fenced block that holds JSON; else the first one.
        for b in blocks:
            if "[" in b or "{" in b:
                return b.strip()
        return blocks[0].strip()
    return text.strip()


def _balanced(text: str, start: int) -> str | None:
    """The bracketed value opening at ``text[start]`` up to its matching
    close, tracking strings in either quote; None when it never closes."""
    depth = 0
    quote: str | None = None
    escape = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            # An apostrophe inside a word ("Ohm's") is not a string quote.
            if ch == "'" and i > 0 and text[i - 1].isalnum():
                continue
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _load(chunk: str):
    """JSON, then JSON without trailing commas, then a Python literal
    (single quotes, True/None); raises ValueError when none reads."""
    for candidate in (chunk, _TRAILING_COMMA.sub(r"\1", chunk)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    try:
        return ast.literal_eval(_TRAILING_COMMA.sub(r"\1", chunk))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError("not JSON") from None


def _salvage(text: str) -> list:
    """Every complete ``{...}`` object in a reply that is cut short or broken."""
    found = []
    i = text.find("{")
    while i != -1:
        chunk = _balanced(text, i)
        if chunk is None:
            # Never closes (the outer object of a reply cut short): look
            # inside it for the complete ones.
            i = text.find("{", i + 1)
            continue
        try:
            value = _load(chunk)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            inner = _entity_list(value)
            found.extend(inner if inner is not None else [value])
        i = text.find("{", i + len(chunk))
    return found


def _entity_list(value) -> list | None:
    """The list of entity records inside a parsed value, or None."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    if _pick(value, _TEXT_KEYS) is not None:
        return [value]  # a bare entity object
    for key in _LIST_KEYS:
        for k, v in value.items():
            if isinstance(k, str) and k.strip().lower() == key and isinstance(v, list):
                return v
    lists = [v for v in value.values() if isinstance(v, list)]
    if len(lists) == 1 and all(isinstance(x, dict) for x in lists[0]):
        return lists[0]
    # {"MAT": ["TiO2", ...], "PRO": [...]}: label -> strings.
    if value and all(isinstance(k, str) and isinstance(v, (list, str)) for k, v in value.items()):
        out = []
        for label, texts in value.items():
            for t in [texts] if isinstance(texts, str) else texts:
                out.append({"text": t, "label": label})
        return out
    return None


def _pick(record: Mapping, keys: Sequence[str]):
    lowered = {k.strip().lower(): v for k, v in record.items() if isinstance(k, str)}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def _items(values: Iterable) -> tuple[list[tuple[str, str]], int]:
    items, bad = [], 0
    for v in values:
        if isinstance(v, Mapping):
            text, label = _pick(v, _TEXT_KEYS), _pick(v, _LABEL_KEYS)
        elif isinstance(v, (list, tuple)) and len(v) == 2:
            text, label = v
        else:
            text = label = None
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        if isinstance(text, str) and isinstance(label, str) and text.strip():
            items.append((text, label))
        else:
            bad += 1
    return items, bad


def parse_answer(reply: str | None) -> ParsedAnswer:
    """Read ``(text, label)`` pairs from a model reply; never raises.

    Accepts: code fences, prose before or after, a JSON list, ``{"entities":
    [...]}``, a bare entity object, ``{"LABEL": ["text", ...]}``, trailing
    commas, single quotes, and a list cut short (complete objects are kept).
    """
    if reply is None or not reply.strip():
        return ParsedAnswer((), False, "empty answer")
    text = _strip_fences(reply)
    starts = [i for i in (text.find("["), text.find("{")) if i != -1]
    if not starts:
        return ParsedAnswer((), False, "no JSON in the answer")
    start = min(starts)
    chunk = _balanced(text, start)
    if chunk is not None:
        try:
            values = _entity_list(_load(chunk))
        except ValueError:
            values = None
        if values is not None:
            items, bad = _items(values)
            return ParsedAnswer(tuple(items), True, malformed_items=bad)
    # Cut short or broken: keep what complete objects there are.
    # Unclosed JSON (not a stray bracket in prose) means the reply was cut.
    cut = chunk is None and _JSON_START.match(text, start) is not None
    rescued = _salvage(text[start:])
    if rescued:
        items, bad = _items(rescued)
        if items:
            problem = "answer cut short" if cut else "answer malformed"
            return ParsedAnswer(tuple(items), True, problem, salvaged=True, malformed_items=bad, cut=cut)
    if cut:
        return ParsedAnswer((), False, "answer cut short", cut=True)
    return ParsedAnswer((), False, "answer is not readable JSON")


# -- labels ------------------------------------------------------------------


def label_lookup(labels: Iterable[str]) -> dict[str, str]:
    """Normalised form -> schema label, for :func:`normalise_label`."""
    return {_norm_label(lab): lab for lab in labels}


def _norm_label(label: str) -> str:
    return re.sub(r"[\s_-]+", " ", label.strip()).casefold()


def normalise_label(label: str, lookup: Mapping[str, str]) -> str | None:
    """The schema label ``label`` names (case, spaces, ``_``/``-`` and a BIO
    prefix ignored), or None when it names none (``"mat"`` -> ``"MAT"``)."""
    key = _norm_label(label)
    if key in lookup:
        return lookup[key]
    m = re.match(r"^[bi] (.+)$", key)  # "B-MAT" after normalising
    if m and m.group(1) in lookup:
        return lookup[m.group(1)]
    return None


# -- grounding ---------------------------------------------------------------


@dataclass
class Grounding:
    """Spans grounded in one sentence and the counts of what was dropped."""

    spans: list[Span] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=empty_counts)
    dropped: list[dict] = field(default_factory=list)


def _pattern(entity: str) -> str:
    # Whitespace inside an entity matches any run of whitespace: models
    # often collapse double spaces or line breaks.
    return r"\s+".join(re.escape(part) for part in entity.split())


def _occurrences(text: str, entity: str) -> list[tuple[int, int]]:
    pattern = _pattern(entity)
    if not pattern:
        return []
    exact = [m.span() for m in re.finditer(pattern, text)]
    if exact:
        return exact
    return [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]


def _snap(sentence: Sentence, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to the edges of the tokens it touches."""
    touched = [t for t in sentence.tokens if t.start < end and t.end > start]
    if not touched:
        return start, end
    return min(start, touched[0].start), max(end, touched[-1].end)


def ground(sentence: Sentence, items: Sequence[tuple[str, str]], labels: Iterable[str] | Mapping[str, str]) -> Grounding:
    """Turn ``(text, label)`` pairs into character spans of ``sentence``.

    Labels are normalised to the schema (others dropped, counted as
    ``invented_labels``). Longer strings are placed first so a long entity
    wins over a shorter one inside it. Occurrences aligned with token
    boundaries are preferred; when there are none, an occurrence inside a
    token is widened to whole tokens (``snapped``). Spans have status
    ``suggested``.
    """
    lookup = label_lookup(labels.keys() if isinstance(labels, Mapping) else labels)
    out = Grounding()
    c = out.counts
    wanted: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for text, raw_label in items:
        c["entities"] += 1
        label = normalise_label(raw_label, lookup)
        if label is None:
            c["invented_labels"] += 1
            out.dropped.append({"text": text, "label": raw_label, "why": "label not in schema"})
            continue
        entity = text.strip()
        if (entity, label) in seen:
            continue
        seen.add((entity, label))
        wanted.append((entity, label))
    taken = [False] * (len(sentence.text) + 1)
    starts = {t.start for t in sentence.tokens}
    ends = {t.end for t in sentence.tokens}
    # Longest first; the sort is stable, so answer order breaks ties.
    for entity, label in sorted(wanted, key=lambda it: -len(it[0])):
        found = _occurrences(sentence.text, entity) if entity else []
        if not found:
            c["ungrounded"] += 1
            out.dropped.append({"text": entity, "label": label, "why": "not found in the sentence"})
            continue
        aligned = [(a, b) for a, b in found if a in starts and b in ends]
        candidates = aligned or sorted({_snap(sentence, a, b) for a, b in found})
        placed = 0
        for a, b in candidates:
            if any(taken[a:b]):
                continue
            for i in range(a, b):
                taken[i] = True
            out.spans.append(Span(a, b, label, sentence.text[a:b], "suggested"))
            placed += 1
            if not aligned:
                c["snapped"] += 1
        if not placed:
            c["overlapping"] += 1
            out.dropped.append({"text": entity, "label": label, "why": "overlaps a longer span"})
    out.spans.sort(key=lambda s: (s.start, s.end))
    c["spans"] = len(out.spans)
    return out


def parse_and_ground(reply: str | None, sentence: Sentence, labels) -> tuple[ParsedAnswer, Grounding]:
    """:func:`parse_answer` then :func:`ground`; the grounding's counts include
    the parse's (``answers``, ``unparseable``, ``salvaged``, ``truncated``,
    ``malformed_items``)."""
    parsed = parse_answer(reply)
    grounding = ground(sentence, parsed.items, labels)
    c = grounding.counts
    c["answers"] = 1
    c["unparseable"] = 0 if parsed.ok or parsed.cut else 1  # a cut reply counts as truncated
    c["salvaged"] = int(parsed.salvaged)
    c["malformed_items"] = parsed.malformed_items
    c["truncated"] = int(parsed.cut)
    return parsed, grounding
