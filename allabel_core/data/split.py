"""Splitting paragraphs into sentences, keeping where each came from.

Abstracts and paragraphs are often one record each; labeling and retrieval
work on sentences. :func:`split_corpus` cuts every record of a corpus at the
sentence boundaries found by pySBD (Sadvilkar & Neumann 2020, "PySBD:
Pragmatic Sentence Boundary Disambiguation", a rule-based splitter built on
the Golden Rules set, which knows abbreviations such as "Fig.", "e.g.",
"et al." and decimal numbers), with two rules of ours on top:

* a boundary counts only where whitespace follows it (so "1.5 wt.% Pt" and
  "Fig.2" are never cut), and
* never inside a span the record already has (its labels stay whole).

Each sentence keeps the record's ``meta`` and adds ``doc_id`` (the record's
id), ``doc_start`` and ``doc_end`` (code-point offsets of the sentence in the
record's text), so ``record.text[doc_start:doc_end] == sentence.text`` and
every entity can be placed back in its paragraph. A record that is one
sentence keeps its id; the sentences of a longer one are ``<id>-s1``,
``<id>-s2``…
"""

from __future__ import annotations

from functools import lru_cache

from .corpus import Corpus, CorpusStream
from ..errors import DataFormatError
from .sentence import Sentence, Span


@lru_cache(maxsize=4)
def _segmenter(language: str):
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def sentence_bounds(text: str, *, language: str = "en", keep: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """``[(start, end)]``: the sentences of ``text`` as code-point offsets,
    without surrounding whitespace, in order. No boundary falls inside any
    ``(start, end)`` of ``keep`` (a record's spans)."""
    pieces, cursor = [], 0
    for piece in _segmenter(language).segment(text):
        body = piece.strip()
        if not body:
            continue
        at = text.find(body, cursor)
        if at < 0:  # the splitter changed the text; do not guess where it cut
            return [_strip(text, 0, len(text))] if text.strip() else []
        pieces.append((at, at + len(body)))
        cursor = at + len(body)
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged:
            prev_start, prev_end = merged[-1]
            glued = prev_end == start  # no whitespace between: not a sentence boundary
            inside = any(a < start and prev_end < b for a, b in keep)
            if glued or inside:
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return merged


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + (len(piece) - len(piece.lstrip())), end - (len(piece) - len(piece.rstrip()))


def split_sentence(s: Sentence, *, language: str = "en") -> list[Sentence]:
    """One record as its sentences (see the module docstring)."""
    bounds = sentence_bounds(s.text, language=language, keep=[(sp.start, sp.end) for sp in s.spans])
    out = []
    for k, (start, end) in enumerate(bounds, 1):
        spans = [Span(sp.start - start, sp.end - start, sp.label, sp.text, sp.status, sp.source, sp.score)
                 for sp in s.spans if start <= sp.start and sp.end <= end]
        meta = {**s.meta, "doc_id": s.id, "doc_start": start, "doc_end": end}
        sid = s.id if len(bounds) == 1 else f"{s.id}-s{k}"
        out.append(Sentence.from_text(sid, s.text[start:end], spans, meta=meta))
    return out


def split_corpus(corpus: Corpus, *, language: str = "en") -> Corpus:
    """Every record of ``corpus`` cut into sentences, in order; the warnings
    say how many records were split. Raises ``DataFormatError`` if a new id
    collides with an id already in the corpus."""
    out: list[Sentence] = []
    taken = set(corpus.ids)
    split = 0
    for s in corpus:
        parts = split_sentence(s, language=language)
        if len(parts) > 1:
            split += 1
            clash = [p.id for p in parts if p.id in taken]
            if clash:
                raise DataFormatError(f"splitting record {s.id!r} makes the id {clash[0]!r}, which another record has",
                                      path=corpus.source)
        out.extend(parts)
    warnings = list(corpus.warnings)
    if split:
        warnings.append(f"{corpus.source or 'the data'}: {split} of {len(corpus)} records split into sentences "
                        f"({len(out)} sentences)")
    return Corpus(out, warnings, corpus.source, corpus.format)


def split_stream(stream: CorpusStream, *, language: str = "en") -> CorpusStream:
    """:func:`split_corpus` one record at a time: the stream's records cut
    into sentences as they are read. A new id that another record has is
    caught by the stream's duplicate-id check, naming both lines."""
    counts = {"records": 0, "split": 0, "sentences": 0}

    def items():
        for line, s in stream.numbered():
            parts = split_sentence(s, language=language)
            counts["records"] += 1
            counts["split"] += len(parts) > 1
            counts["sentences"] += len(parts)
            for part in parts:
                yield line, part

    def warnings() -> list[str]:
        out = list(stream.warnings)
        if counts["split"]:
            out.append(f"{stream.source or 'the data'}: {counts['split']} of {counts['records']} records split "
                       f"into sentences ({counts['sentences']} sentences)")
        return out

    return CorpusStream(items(), source=stream.source, format=stream.format, lines=stream.lines, warnings=warnings)
