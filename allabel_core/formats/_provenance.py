"""The side field that carries each span's ``source`` and ``score`` in
formats with no room for them on the span itself (doccano, JSONL
tokens/tags).

``"provenance"``: a list with one object per span that has a source or a
score, ``{"start", "end", "label", "source", "score"}``; ``start``/``end``
are character offsets (doccano) or, for JSONL tokens/tags, ``token_start``
and ``token_end`` (inclusive, as Prodigy counts). Written only when some
span has either; readers of other tools keep it as an unknown key (doccano
keeps it in the example's metadata).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..data.sentence import Sentence, Span
from ._io import Source, a_kind
from ._records import RawSpan, is_int, span_provenance

FIELD = "provenance"


def entries(spans: Sequence[Span], token_of: tuple[dict, dict] | None = None) -> list[dict]:
    out = []
    for sp in spans:
        if sp.source is None and sp.score is None:
            continue
        if token_of is None:
            entry: dict = {"start": sp.start, "end": sp.end}
        else:
            starts, ends = token_of
            if sp.start not in starts or sp.end not in ends:
                continue
            entry = {"token_start": starts[sp.start], "token_end": ends[sp.end]}
        entry["label"] = sp.label
        if sp.source is not None:
            entry["source"] = sp.source
        if sp.score is not None:
            entry["score"] = sp.score
        out.append(entry)
    return out


def token_maps(sentence: Sentence) -> tuple[dict, dict]:
    return ({t.start: i for i, t in enumerate(sentence.tokens)}, {t.end: i for i, t in enumerate(sentence.tokens)})


def apply(sentence: Sentence, record: dict, src: Source, line: int, *, tokens: bool = False) -> Sentence:
    """``sentence`` with the source and score ``record[FIELD]`` gives its spans."""
    if FIELD not in record:
        return sentence
    given = record[FIELD]
    if not isinstance(given, list):
        raise src.error(f"{FIELD!r} must be a list, got {a_kind(given)}", line)
    found: dict = {}
    keys = ("token_start", "token_end") if tokens else ("start", "end")
    for n, entry in enumerate(given, 1):
        where = f"{FIELD} {n}"
        if not isinstance(entry, dict) or not all(is_int(entry.get(k)) for k in keys) or "label" not in entry:
            raise src.error(f"{where} must be an object {{{', '.join(keys)}, label, source?, score?}}, got {entry!r}",
                            line)
        a, b = entry[keys[0]], entry[keys[1]]
        if tokens:
            if not 0 <= a <= b < len(sentence.tokens):
                raise src.error(f"{where}: tokens {a}..{b} are not in the sentence ({len(sentence.tokens)} tokens)",
                                line)
            a, b = sentence.tokens[a].start, sentence.tokens[b].end
        raw = RawSpan(a, b, entry["label"], where, source=entry.get("source"), score=entry.get("score"))
        found[(a, b, entry["label"])] = (span_provenance(raw, src, line), where)
    spans = []
    for sp in sentence.spans:
        hit = found.pop(sp.key(), None)
        spans.append(sp if hit is None else replace(sp, source=hit[0][0], score=hit[0][1]))
    for (a, b, label), (_, where) in found.items():
        src.note(f"{FIELD} entries that match no span, ignored", f"line {line}: {where} [{a}, {b}) {label}")
    return replace(sentence, spans=tuple(spans))
