"""One model of a sentence: text, tokens with offsets, and entity spans.

The truth is character offsets over Python ``str`` code points (0-based,
end-exclusive). Each span keeps its text so every write can be checked, and
its status: ``gold`` (from a file), ``suggested`` (from a predictor) or
``confirmed`` (by a person). BIO2 tags are derived from spans, and spans from
BIO2 tags; both directions are lossless for flat spans aligned to tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..errors import DataFormatError
from .tokenize import Token, tokenize, tokens_from_words

STATUSES = ("gold", "suggested", "confirmed")
# Spans that may serve as demonstrations and count as annotated.
TRUSTED = ("gold", "confirmed")

_TAG = re.compile(r"^(?:O|([BIES])-(\S+))$")


@dataclass(frozen=True, slots=True)
class Span:
    """An entity mention: ``text == sentence.text[start:end]``."""

    start: int
    end: int
    label: str
    text: str
    status: str = "gold"
    # Who made the span: ``"human"`` for a person's label, a predictor's name
    # (the offline kNN predictor's, or an LLM's model id) for a prediction; ``None`` when
    # unknown (spans read from a file without that information).
    source: str | None = None
    # The predictor's confidence in [0, 1], where it gives one.
    score: float | None = None

    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.label)


def normalize_text(text: str) -> str:
    """Normalise line endings (``\\r\\n`` and lone ``\\r`` become ``\\n``)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence with tokens and spans. Build with :meth:`from_text` or
    :meth:`from_tags`; both validate."""

    id: str
    text: str
    tokens: tuple[Token, ...]
    spans: tuple[Span, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)

    # -- construction -----------------------------------------------------
    @classmethod
    def from_text(
        cls,
        id: str,
        text: str,
        spans: Iterable[Span | tuple[int, int, str]] = (),
        *,
        status: str = "gold",
        meta: dict | None = None,
    ) -> Sentence:
        """Build from raw text and character spans; tokenizes with
        :func:`allabel_core.data.tokenize.tokenize`, cutting tokens at span edges.

        Raises ``DataFormatError`` for offsets outside the text, empty spans,
        a stored span text that differs from ``text[start:end]``, or an
        unknown status. Overlapping spans are allowed here (BIO export is
        where they are dropped, and listed).
        """
        spans = list(spans)
        if "\r\n" in text:
            # Offsets were given over the raw text: move them onto the
            # normalised one, after checking them where they were made.
            spans = [_shift_crlf(text, _check_span(text, s, status)) for s in spans]
        text = normalize_text(text)
        checked = tuple(sorted((_check_span(text, s, status) for s in spans), key=_span_order))
        bounds = [b for s in checked for b in (s.start, s.end)]
        return cls(str(id), text, tokenize(text, bounds), checked, dict(meta or {}))

    @classmethod
    def from_tags(
        cls,
        id: str,
        words: Sequence[str],
        tags: Sequence[str],
        *,
        status: str = "gold",
        meta: dict | None = None,
    ) -> tuple[Sentence, int]:
        """Build from pre-tokenized words and IOB2 tags.

        Returns the sentence and the number of ``I-X`` tags that started an
        entity and were repaired to ``B-X``. Raises ``DataFormatError`` on a
        length mismatch, an empty word, or a tag that is not ``O``/``B-X``/``I-X``.
        """
        if len(words) != len(tags):
            raise DataFormatError(f"{len(words)} tokens but {len(tags)} tags")
        for i, w in enumerate(words):
            if not isinstance(w, str) or not w or any(ch.isspace() for ch in w):
                raise DataFormatError(f"token {i + 1} is empty or contains whitespace: {w!r}")
        text, tokens = tokens_from_words(words)
        spans, repaired = tags_to_spans(text, tokens, tags, status=status)
        return cls(str(id), text, tokens, tuple(spans), dict(meta or {})), repaired

    # -- views ------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    def spans_with(self, statuses: Iterable[str] = TRUSTED) -> tuple[Span, ...]:
        wanted = set(statuses)
        return tuple(s for s in self.spans if s.status in wanted)

    def tags(self, statuses: Iterable[str] = STATUSES) -> list[str]:
        """BIO2 tags over the tokens for spans of the given statuses.

        Overlapping spans cannot be written as BIO: the longer (then earlier)
        one is kept; use :func:`spans_to_tags` to learn which were dropped.
        """
        return spans_to_tags(self.tokens, self.spans_with(statuses))[0]

    def with_spans(self, spans: Iterable[Span | tuple[int, int, str]], *, status: str = "gold") -> Sentence:
        """A copy with these spans instead; retokenizes only if an edge falls
        inside a token."""
        checked = tuple(sorted((_check_span(self.text, s, status) for s in spans), key=_span_order))
        starts = {t.start for t in self.tokens}
        ends = {t.end for t in self.tokens}
        tokens = self.tokens
        if any(s.start not in starts or s.end not in ends for s in checked):
            bounds = [b for s in checked for b in (s.start, s.end)]
            bounds += [b for t in self.tokens for b in (t.start, t.end)]
            tokens = tokenize(self.text, bounds)
        return replace(self, tokens=tokens, spans=checked)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "spans": [
                {"start": s.start, "end": s.end, "label": s.label, "text": s.text, "status": s.status}
                for s in self.spans
            ],
        }


def _shift_crlf(raw: str, span: Span) -> Span:
    """The same span over ``normalize_text(raw)``: each ``\r\n`` before an
    offset shortens it by one."""
    start = span.start - raw.count("\r\n", 0, span.start)
    end = span.end - raw.count("\r\n", 0, span.end)
    return replace(span, start=start, end=end, text=normalize_text(span.text))


def _span_order(s: Span) -> tuple[int, int, str]:
    return (s.start, -s.end, s.label)


def _check_span(text: str, span: Span | tuple, status: str) -> Span:
    if isinstance(span, Span):
        start, end, label, stored, st = span.start, span.end, span.label, span.text, span.status
        source, score = span.source, span.score
    else:
        start, end, label = span[0], span[1], span[2]
        stored, st, source, score = None, status, None, None
    if st not in STATUSES:
        raise DataFormatError(f"span status {st!r} is not one of {', '.join(STATUSES)}")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        raise DataFormatError(f"span offsets must be integers, got {start!r}, {end!r}")
    if not (0 <= start < end <= len(text)):
        raise DataFormatError(f"span [{start}, {end}) {label!r} lies outside the text (length {len(text)})")
    if not isinstance(label, str) or not label.strip() or any(ch.isspace() for ch in label):
        raise DataFormatError(f"span [{start}, {end}) has an invalid label {label!r}")
    actual = text[start:end]
    if stored is not None and stored != actual:
        raise DataFormatError(f"span [{start}, {end}) says {stored!r} but the text there is {actual!r}")
    return Span(start, end, label, actual, st, source, score)


def parse_tag(tag: str) -> tuple[str, str | None]:
    """``"B-MAT" -> ("B", "MAT")``, ``"O" -> ("O", None)``; raises on other syntax.

    Accepts BIOES prefixes too (``S``/``E``), so IOBES files can be read.
    """
    m = _TAG.match(tag) if isinstance(tag, str) else None
    if not m:
        raise DataFormatError(f"unknown tag {tag!r} (expected O, B-TYPE or I-TYPE)")
    return (m.group(1) or "O", m.group(2))


def tags_to_spans(
    text: str, tokens: Sequence[Token], tags: Sequence[str], *, status: str = "gold"
) -> tuple[list[Span], int]:
    """Decode BIO2 (or IOB1, or BIOES) tags into character spans.

    An ``I-X`` that does not continue an ``X`` entity starts a new one; each
    such repair is counted and returned. Returns ``(spans, repaired)``.
    """
    spans: list[Span] = []
    repaired = 0
    cur_label: str | None = None
    cur_start = cur_end = 0

    def close() -> None:
        nonlocal cur_label
        if cur_label is not None:
            spans.append(Span(cur_start, cur_end, cur_label, text[cur_start:cur_end], status))
        cur_label = None

    for i, (tok, tag) in enumerate(zip(tokens, tags)):
        try:
            prefix, label = parse_tag(tag)
        except DataFormatError as exc:
            raise DataFormatError(f"token {i + 1} ({tok.text!r}): {exc.reason}") from None
        if prefix == "O":
            close()
        elif prefix in ("B", "S"):
            close()
            cur_label, cur_start, cur_end = label, tok.start, tok.end
            if prefix == "S":
                close()
        else:  # I or E
            if cur_label != label:
                close()
                repaired += 1
                cur_label, cur_start = label, tok.start
            cur_end = tok.end
            if prefix == "E":
                close()
    close()
    return spans, repaired


def spans_to_tags(tokens: Sequence[Token], spans: Iterable[Span]) -> tuple[list[str], list[Span]]:
    """Encode spans as BIO2 tags over ``tokens``.

    Overlapping spans cannot be written as BIO: spans are taken longest first
    (then leftmost) and any that overlaps one already placed is dropped.
    A span whose edges fall inside a token covers every token it touches.
    Returns ``(tags, dropped)``.
    """
    tags = ["O"] * len(tokens)
    taken = [False] * len(tokens)
    dropped: list[Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        idx = [i for i, t in enumerate(tokens) if t.start < span.end and t.end > span.start]
        if not idx or any(taken[i] for i in idx):
            dropped.append(span)
            continue
        for n, i in enumerate(idx):
            tags[i] = ("B-" if n == 0 else "I-") + span.label
            taken[i] = True
    dropped.sort(key=_span_order)
    return tags, dropped


def is_iob1(tag_sequences: Iterable[Sequence[str]]) -> bool:
    """True when tags look like IOB1 (CoNLL-2003 style).

    In IOB1, ``B-X`` appears only directly after another ``X`` tag, and
    entities otherwise start with ``I-X``. A file is IOB1 if at least one
    entity starts with ``I-`` and no ``B-X`` follows anything but an ``X``.
    """
    i_starts = 0
    for tags in tag_sequences:
        found = iob1_evidence(tags)
        if found is None:
            return False
        i_starts += found
    return i_starts > 0


def iob1_evidence(tags: Sequence[str]) -> int | None:
    """One sentence's part of :func:`is_iob1`: None when it rules IOB1 out
    (a ``B-X`` after anything but ``X``, or a tag that is not one), else how
    many entities start with ``I-`` (so a file can be judged record by record)."""
    i_starts = 0
    prev: str | None = None
    for tag in tags:
        try:
            prefix, label = parse_tag(tag)
        except DataFormatError:
            return None
        if prefix == "B" and prev != label:
            return None
        if prefix == "I" and prev != label:
            i_starts += 1
        prev = label if prefix != "O" else None
    return i_starts

