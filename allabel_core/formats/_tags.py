"""Shared by the token formats (CoNLL, JSONL tokens/tags): reading tag
sequences with their repairs, and writing spans as IOB2 tags.

Reading checks every token and tag before building anything, so an error
names the line of the token at fault. The whole file is then tested for IOB1
(CoNLL-2003 style) with :func:`allabel_core.data.sentence.is_iob1`: an IOB1 file is
converted to IOB2 with one warning; otherwise each ``I-X`` that starts an
entity is repaired to ``B-X`` and noted with its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import DataFormatError
from ..data.sentence import Sentence, Span, iob1_evidence, parse_tag, spans_to_tags
from ._io import Source, json_kind

_SPACE = re.compile(r"\s")


@dataclass(slots=True)
class TokenRecord:
    """One sentence as read: ``lines[i]`` is the line of token ``i`` (CoNLL),
    or None when the whole sentence is on ``line`` (JSONL)."""

    line: int
    id: str
    words: list
    tags: list
    lines: list[int] | None = None


def _place(rec: TokenRecord, i: int) -> tuple[int, str]:
    if rec.lines is None:
        return rec.line, f"token {i + 1} ({rec.words[i]!r})"
    return rec.lines[i], f"token {rec.words[i]!r}"


def _bad_word(rec: TokenRecord, src: Source) -> None:
    for i, word in enumerate(rec.words):
        if not isinstance(word, str):
            raise src.error(f"token {i + 1} must be a string, got {json_kind(word)} {word!r}", rec.line)
        line, place = _place(rec, i)
        if not word:
            raise src.error(f"{place} is empty", line)
        if _SPACE.search(word):
            raise src.error(f"{place} contains whitespace", line)


def _parse(rec: TokenRecord, i: int, src: Source) -> tuple[str, str | None]:
    line, place = _place(rec, i)
    tag = rec.tags[i]
    if not isinstance(tag, str):
        raise src.error(f"{place}: the tag must be a string, got {json_kind(tag)} {tag!r}", line)
    try:
        return parse_tag(tag)
    except DataFormatError as exc:
        raise src.error(f"{place}: {exc.reason}", line) from None


def _check(rec: TokenRecord, src: Source, parsed: dict) -> list[tuple[int, str, str]]:
    """Raise on the first bad token or tag; return the ``I-X`` tags that
    start an entity, as ``(line, place, tag)``. ``parsed`` caches tag syntax
    across the file (a file has few distinct tags and many tokens)."""
    words, tags = rec.words, rec.tags
    if len(words) != len(tags):
        raise src.error(f"{len(words)} tokens but {len(tags)} tags", rec.line)
    if not all(isinstance(w, str) for w in words) or "" in words or _SPACE.search("".join(words)):
        _bad_word(rec, src)
    unstarted = []
    current: str | None = None  # the type of the entity still open, as tags_to_spans tracks it
    for i, tag in enumerate(tags):
        try:
            prefix, label = parsed[tag]
        except (KeyError, TypeError):
            prefix, label = parsed[tag] = _parse(rec, i, src)
        if prefix in ("I", "E") and current != label:
            unstarted.append((*_place(rec, i), tag))
        current = None if prefix in ("O", "S", "E") else label
    return unstarted


def check_token_records(records: Iterable[TokenRecord], src: Source) -> None:
    """Check every record (raising at the first bad token or tag), and
    warn or note how its tags are read: IOB1 and BIOES are told from the
    whole file. One pass, keeping nothing but the notes, so a big file
    can be checked before any sentence is built."""
    parsed: dict = {}
    unstarted: list[tuple[int, str, str]] = []
    iob1, i_starts, bioes = True, 0, False
    for rec in records:
        unstarted += _check(rec, src, parsed)
        if iob1:
            found = iob1_evidence(rec.tags)
            iob1, i_starts = found is not None, i_starts + (found or 0)
        bioes = bioes or any(tag[:2] in ("S-", "E-") for tag in rec.tags)
    if unstarted and iob1 and i_starts:
        src.warn(
            "tags are IOB1 (CoNLL-2003 style: entities start with I-X, and B-X only separates two adjacent "
            f"entities of one type); converted to IOB2, {len(unstarted)} entity starts rewritten as B-X"
        )
    else:
        for line, place, tag in unstarted:
            src.note("I-X without a B-X before it, read as the start of an entity (B-X)", f"line {line}, {place} {tag}")
    if bioes:
        src.warn("tags are BIOES (S-X, E-X); read as entities, and written back as IOB2")


def token_sentence(rec: TokenRecord, src: Source, *, status: str) -> tuple[int, Sentence]:
    """One checked record (:func:`check_token_records`) as its line and sentence."""
    sentence, _ = Sentence.from_tags(rec.id, rec.words, rec.tags, status=status)
    if not rec.words:
        src.note("sentence without tokens", f"line {rec.line}")
    return rec.line, sentence


def token_sentences(records: Sequence[TokenRecord], src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    """Check every record, detect IOB1 and BIOES, and build the sentences."""
    check_token_records(records, src)
    return [token_sentence(rec, src, status=status) for rec in records]


def _drop_reason(span: Span, kept: Iterable[Span]) -> str:
    for other in kept:
        if other.start < span.end and span.start < other.end:
            return (
                f"it overlaps [{other.start}, {other.end}) {other.label} {other.text!r}, "
                "and BIO tags cannot hold overlapping spans"
            )
    return "it covers no token"


def iob2_rows(
    sentences: Iterable[Sentence], statuses: Sequence[str], warnings: list[str]
) -> Iterable[tuple[Sentence, list[str]]]:
    """Each sentence with IOB2 tags for its spans of ``statuses``; every span
    that cannot be written is listed in ``warnings``."""
    for sentence in sentences:
        spans = sentence.spans_with(statuses)
        tags, dropped = spans_to_tags(sentence.tokens, spans)
        if dropped:
            kept = [s for s in spans if s not in dropped]
            for span in dropped:
                warnings.append(
                    f"sentence {sentence.id!r}: span [{span.start}, {span.end}) {span.label} {span.text!r} "
                    f"not written: {_drop_reason(span, kept)}"
                )
        yield sentence, tags
