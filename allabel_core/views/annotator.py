"""The span annotator's two sides, as plain data: what it is given to draw
(:func:`annotator_props`) and what a person's action in it means
(:func:`resolve_event`), plus the comparison with gold a class uses to learn
(:func:`gold_check`).

The browser names *token indices*, never strings, so the first of two
identical words is the first by construction. Token indices refer to the
tokenization sent in the props: tokens are cut at every span edge, so each
span covers whole tokens. Offsets in the props are code points (Python
``str``, the truth) and, for slicing in JavaScript, UTF-16 code units
(``u16``): an astral character such as ``𝛼`` is one code point, two units.

Words the person reads: a span is ``"suggested"`` (by a predictor, dashed)
or ``"accepted"`` (by a person); the store calls the latter ``confirmed``.
A sentence is ``"confirmed"`` or ``"skipped"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..data.sentence import Sentence
from ..errors import ConfigError
from ..project.labels import SpanError

# What the browser may send; everything else is refused.
SPAN_KINDS = ("label", "remove")
COMMANDS = ("accept_all", "confirm", "skip", "previous", "undo", "suggest")
KINDS = SPAN_KINDS + COMMANDS

# The person's word for a stored span status.
SHOWN_STATUS = {"confirmed": "accepted", "suggested": "suggested"}

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
FALLBACK_COLOR = "#BAB0AC"


def type_keys(schema) -> list[str | None]:
    """The key that labels with each type, in schema order: ``1``…``9``,
    then ``0`` for the tenth; later types are chosen by their chip only."""
    keys = [str(i + 1) for i in range(9)] + ["0"]
    return [keys[i] if i < len(keys) else None for i in range(len(schema.types))]


def gloss(definition: str, limit: int = 48) -> str:
    """The opening words of a type's definition, for its chip: up to the
    first ``:``, ``,``, ``;`` or ``.`` (not a decimal point), at most
    ``limit`` characters (cut at a word, with an ellipsis)."""
    head = re.split(r"[:;,]|\.(?!\d)", definition.strip(), maxsplit=1)[0].strip()
    if len(head) <= limit:
        return head
    cut = head[:limit].rsplit(" ", 1)[0].rstrip()
    return f"{cut}…"


def annotator_props(
    sentence: Sentence,
    schema,
    *,
    rev: int,
    state: str | None = None,
    ack: int = 0,
    notice: Mapping | None = None,
    caption: str = "",
    gold: Mapping | None = None,
) -> dict:
    """The JSON the annotator draws from.

    ``sentence``: a pool sentence with the person's spans (suggested and
    confirmed, never overlapping), tokens cut at their edges. ``rev``: the
    sentence's revision in the store (an action is sent with it, and refused
    if the sentence changed meanwhile). ``ack``: the id of the last event of
    this session the server has handled. ``notice``: ``{kind, text, event}``
    shown in place (``kind``: ``"info"``, ``"success"``, ``"error"``).
    ``gold``: an optional :func:`gold_check` result as data, drawn under the
    sentence.
    """
    text = sentence.text
    tokens = []
    units = pos = 0  # UTF-16 units up to code point `pos`
    for i, tok in enumerate(sentence.tokens):
        units += _units(text, pos, tok.start)
        a16 = units
        units += _units(text, tok.start, tok.end)
        pos = tok.end
        tokens.append({"i": i, "text": tok.text, "start": tok.start, "end": tok.end, "u16": [a16, units]})
    starts = {t.start: i for i, t in enumerate(sentence.tokens)}
    ends = {t.end: i for i, t in enumerate(sentence.tokens)}
    spans = []
    for sp in sentence.spans:
        if sp.status not in SHOWN_STATUS:
            continue
        if sp.start not in starts or sp.end not in ends:  # pragma: no cover - Sentence.with_spans cuts tokens at edges
            raise SpanError(f"span [{sp.start}, {sp.end}) does not fall on token edges")
        spans.append({"first": starts[sp.start], "last": ends[sp.end], "start": sp.start, "end": sp.end,
                      "label": sp.label, "status": SHOWN_STATUS[sp.status], "text": sp.text})
    types = [
        {"name": t.name, "description": t.description or "", "gloss": gloss(t.description or ""), "key": key,
         "color": t.color if _COLOR.match(t.color or "") else FALLBACK_COLOR}
        for t, key in zip(schema.types, type_keys(schema))
    ]
    return {
        "sid": sentence.id, "rev": int(rev), "text": text, "length16": units + _units(text, pos, len(text)),
        "tokens": tokens, "spans": spans, "types": types, "state": state, "ack": int(ack),
        "notice": dict(notice) if notice else None, "caption": caption, "gold": dict(gold) if gold else None,
    }


def _units(text: str, a: int, b: int) -> int:
    return (b - a) + sum(1 for ch in text[a:b] if ord(ch) > 0xFFFF)


# -- events -----------------------------------------------------------------------
@dataclass(frozen=True)
class SpanAction:
    """A span change an event asks for, in code-point offsets.

    ``kind``: ``"add"`` (a new accepted span; suggestions it overlaps go),
    ``"relabel"`` (the span at exactly these offsets gets ``label`` and is
    accepted), ``"accept"`` (the suggestion there is accepted as it is) or
    ``"remove"``.
    """

    kind: str
    start: int
    end: int
    label: str | None
    text: str


@dataclass(frozen=True)
class Command:
    """A sentence-level event: accept_all, confirm, skip, previous, undo, suggest."""

    kind: str


def _index(event: Mapping, name: str, n: int) -> int:
    value = event.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpanError(f"the event's {name!r} must be a token index, got {value!r}")
    if not 0 <= value < n:
        raise SpanError(f"token {value} does not exist (the sentence has {n} tokens)")
    return value


def resolve_event(event: Mapping, sentence: Sentence, labels: Sequence[str]) -> SpanAction | Command:
    """What one annotator event asks of the store.

    ``event``: ``{"kind", "first", "last", "label"}`` as the browser sends it
    (``first``/``last``: token indices, inclusive, in either order);
    ``sentence``: the sentence *as the props that produced the event showed
    it* (same tokens, same spans); ``labels``: the schema's type names.

    A label over exactly an existing span relabels (or accepts) it; one that
    overlaps an accepted span is refused (remove that span first); one that
    overlaps only suggestions replaces them. ``remove`` removes the one span
    under the selection. Raises :class:`SpanError` with a message for the
    person, and changes nothing, when the event cannot be done.
    """
    if not isinstance(event, Mapping):
        raise SpanError(f"an annotator event is an object, got {type(event).__name__}")
    kind = event.get("kind")
    if kind not in KINDS:
        raise SpanError(f"unknown annotator action {kind!r}")
    if kind in COMMANDS:
        return Command(kind)
    n = len(sentence.tokens)
    if n == 0:
        raise SpanError("this sentence has no words to label")
    first, last = sorted((_index(event, "first", n), _index(event, "last", n)))
    start, end = sentence.tokens[first].start, sentence.tokens[last].end
    text = sentence.text[start:end]
    under = [sp for sp in sentence.spans if sp.start < end and start < sp.end]
    if kind == "remove":
        if not under:
            raise SpanError(f"there is no span under “{text}” to remove")
        if len(under) > 1:
            raise SpanError(f"“{text}” touches {len(under)} spans; select a word inside the one to remove")
        sp = under[0]
        return SpanAction("remove", sp.start, sp.end, sp.label, sp.text)
    label = event.get("label")
    if not isinstance(label, str) or label not in labels:
        raise SpanError(f"type {label!r} is not in the schema ({', '.join(labels) or 'no types yet'})")
    exact = [sp for sp in under if (sp.start, sp.end) == (start, end)]
    if exact:
        sp = exact[0]
        if sp.status == "suggested" and sp.label == label:
            return SpanAction("accept", start, end, label, text)
        if sp.status == "confirmed" and sp.label == label:
            raise SpanError(f"“{text}” is already accepted as {label}")
        return SpanAction("relabel", start, end, label, text)
    accepted = [sp for sp in under if sp.status == "confirmed"]
    if accepted:
        listed = "; ".join(f"“{sp.text}” ({sp.label})" for sp in accepted)
        raise SpanError(f"“{text}” overlaps the accepted span {listed}; remove that span first (Backspace)")
    return SpanAction("add", start, end, label, text)


# -- checking against gold ------------------------------------------------------------
Triple = tuple[int, int, str]


@dataclass(frozen=True)
class GoldCheck:
    """One sentence's spans against gold, strictly (same start, end and type).

    ``missed``: gold spans the person has nothing at; ``added``: the
    person's spans gold has nothing at; ``mistyped``: ``(person, gold)``
    pairs at the same offsets with different types. ``tp``/``fp``/``fn`` as
    seqeval's strict entity-level count them (a mistyped span is one false
    positive and one false negative).
    """

    missed: tuple[Triple, ...] = ()
    added: tuple[Triple, ...] = ()
    mistyped: tuple[tuple[Triple, Triple], ...] = ()
    tp: int = 0
    fp: int = 0
    fn: int = 0
    matched: tuple[Triple, ...] = field(default=())

    def as_data(self, text: str) -> dict:
        """For the annotator's props: each span with its text."""
        def one(t: Triple) -> dict:
            return {"start": t[0], "end": t[1], "label": t[2], "text": text[t[0]:t[1]]}

        return {
            "missed": [one(t) for t in self.missed], "added": [one(t) for t in self.added],
            "mistyped": [{**one(p), "gold_label": g[2]} for p, g in self.mistyped],
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
        }


def gold_check(person: Iterable[Triple], gold: Iterable[Triple]) -> GoldCheck:
    """Compare a person's spans with gold (both ``(start, end, label)``)."""
    mine, truth = set(map(tuple, person)), set(map(tuple, gold))
    matched = mine & truth
    gold_at = {(s, e): t for s, e, t in truth - matched}
    mistyped = sorted(((p, (p[0], p[1], gold_at[p[:2]])) for p in mine - matched if p[:2] in gold_at))
    typed_p = {p for p, _ in mistyped}
    typed_g = {g for _, g in mistyped}
    return GoldCheck(
        missed=tuple(sorted(truth - matched - typed_g)), added=tuple(sorted(mine - matched - typed_p)),
        mistyped=tuple(mistyped), tp=len(matched), fp=len(mine - matched), fn=len(truth - matched),
        matched=tuple(sorted(matched)),
    )


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float | None, float | None]:
    """Precision and recall from counts (None where undefined: nothing predicted / no gold)."""
    return (tp / (tp + fp) if tp + fp else None, tp / (tp + fn) if tp + fn else None)


def annotator_scores(confirms: Iterable[Mapping], gold: Callable[[str], Iterable[Triple]]) -> dict[str, dict]:
    """Running precision and recall per annotator, against gold.

    ``confirms``: confirm actions from the project's history (``annotator``,
    ``sentence_id``, ``undone``, ``summary["answer"]``: the spans confirmed
    then); undone ones and those without an annotator are left out, and for
    each annotator only their newest confirm of a sentence counts. ``gold``:
    a sentence id → its gold ``(start, end, label)`` spans; sentences with
    no gold entry at all still count (every span there is a false positive).
    Returns annotator → ``{sentences, tp, fp, fn, precision, recall}``.
    """
    newest: dict[tuple[str, str], Mapping] = {}
    for row in sorted(confirms, key=lambda r: r["seq"]):
        if row.get("undone") or not row.get("annotator") or "answer" not in (row.get("summary") or {}):
            continue
        newest[(row["annotator"], row["sentence_id"])] = row
    out: dict[str, dict] = {}
    for (who, sid), row in newest.items():
        check = gold_check((tuple(a) for a in row["summary"]["answer"]), gold(sid))
        acc = out.setdefault(who, {"sentences": 0, "tp": 0, "fp": 0, "fn": 0})
        acc["sentences"] += 1
        for k in ("tp", "fp", "fn"):
            acc[k] += getattr(check, k)
    for acc in out.values():
        acc["precision"], acc["recall"] = precision_recall(acc["tp"], acc["fp"], acc["fn"])
    return dict(sorted(out.items()))


def check_annotator_name(name: object) -> str:
    """An annotator's name as typed: trimmed, 1 to 40 characters, no control
    characters (it goes into the URL and into every action's record)."""
    text = str(name or "").strip()
    if not text:
        raise ConfigError("type your name (or initials) first")
    if len(text) > 40:
        raise ConfigError(f"a name of at most 40 characters, please ({len(text)} typed)")
    if any(not ch.isprintable() for ch in text):
        raise ConfigError("the name contains a control character")
    return text
