"""Two annotated files of the same sentences, aligned for scoring: gold and
predicted tags over the same tokens, the tags as written.

Each file may be in any format :func:`~allabel_core.formats.read_corpus`
reads. Token formats (CoNLL, JSONL tokens/tags) give their tags exactly as
written: nothing a reader repairs for annotation (an ``I-X`` that starts an
entity read as ``B-X``) reaches a predicted sequence, so strict scoring sees
what the predictor wrote. A gold file in IOB1 (CoNLL-2003) or BIOES is read
as the entities it means, in IOB2, with a note: that is the reference's
scheme, not a mistake in it. Span formats give the tags of all their spans
(any status) over the tokens both files share.

Sentences are paired by id when both files have the same ids, else by text
(whitespace aside, in order for repeated texts). Files that cannot be paired
sentence by sentence, or whose paired sentences differ in text or, for two
token files, in tokens, are refused, naming the first mismatch. When one
side holds character spans and the other tokens, the spans are put on the
other side's tokens; a span edge inside a token widens the span to the whole
token, with a note.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpus import Corpus
from ..errors import DataFormatError
from ..data.sentence import STATUSES, Sentence, Span, is_iob1, spans_to_tags
from ..data.tokenize import Token, tokenize
from . import FORMATS, choose_format, conll, jsonl
from ._io import Source, check_nonempty, decode
from ._tags import token_sentences


@dataclass
class TaggedFile:
    """A file's sentences and, for token formats, its tags as written."""

    path: str
    corpus: Corpus
    raw_tags: list[list[str]] | None  # None for span formats
    lines: list[int]

    @property
    def token_based(self) -> bool:
        return self.raw_tags is not None


@dataclass
class Aligned:
    """Gold and predicted tags, one list per sentence pair, over the same tokens."""

    ids: list[str]
    gold: list[list[str]]
    pred: list[list[str]]
    paired_by: str  # "id" or "text"
    warnings: list[str] = field(default_factory=list)


def read_tagged(
    path: str | Path, fmt: str | None = None, *, token_column: int | None = None, tag_column: int | None = None
) -> TaggedFile:
    """Read one file for scoring (see the module docstring)."""
    path = str(path)
    src = Source(path)
    content = decode(Path(path).read_bytes(), path)
    check_nonempty(content, src)
    fmt, options = choose_format(path, content, fmt, {"token_column": token_column, "tag_column": tag_column}, src)
    if fmt in ("conll", "jsonl"):
        records = conll.read_records(content, src, **options) if fmt == "conll" else jsonl.read_records(content, src)
        # token_sentences checks every token and tag; its notes on repairs are
        # for annotators and do not apply: the raw tags are what gets scored.
        items = token_sentences(records, Source(path), status="gold")
        raw = [list(r.tags) for r in records]
    else:
        items = list(FORMATS[fmt].reader(content, src, status="gold", **options))
        raw = None
    if not items:
        raise src.error("no sentences found", 1)
    seen: dict[str, int] = {}
    for line, s in items:
        if s.id in seen:
            raise src.error(f"duplicate id {s.id!r} (first used on line {seen[s.id]})", line)
        seen[s.id] = line
    corpus = Corpus([s for _, s in items], src.warnings(), path, fmt)
    return TaggedFile(path, corpus, raw, [line for line, _ in items])


def _unstarted(tag_lists) -> int:
    """Entities that start with ``I-X``: strict IOB2 counts no entity there."""
    return sum(
        1 for tags in tag_lists for k, t in enumerate(tags)
        if t[:2] == "I-" and (k == 0 or tags[k - 1] == "O" or tags[k - 1][2:] != t[2:])
    )


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _pairs(gold: TaggedFile, pred: TaggedFile) -> tuple[list[tuple[int, int]], str]:
    g_ids, p_ids = gold.corpus.ids, pred.corpus.ids
    if set(g_ids) == set(p_ids):
        where = {sid: i for i, sid in enumerate(p_ids)}
        pairs = [(i, where[sid]) for i, sid in enumerate(g_ids)]
        for i, j in pairs:
            if _squeeze(gold.corpus[i].text) != _squeeze(pred.corpus[j].text):
                raise DataFormatError(
                    f"sentence {g_ids[i]!r} differs: gold (line {gold.lines[i]}) {gold.corpus[i].text[:60]!r}, "
                    f"predicted (line {pred.lines[j]}) {pred.corpus[j].text[:60]!r}; the files are not of the same "
                    "sentences",
                    path=pred.path, line=pred.lines[j],
                )
        return pairs, "id"
    by_text: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(pred.corpus):
        by_text[_squeeze(s.text)].append(j)
    pairs = []
    for i, s in enumerate(gold.corpus):
        bucket = by_text.get(_squeeze(s.text))
        if not bucket:
            raise DataFormatError(
                f"gold sentence {s.id!r} (line {gold.lines[i]}, {s.text[:60]!r}) has no predicted sentence with "
                f"its id or its text; the ids differ ({len(set(g_ids) - set(p_ids))} gold ids are not in the "
                "predictions), so sentences were matched by text",
                path=gold.path, line=gold.lines[i],
            )
        pairs.append((i, bucket.pop(0)))
    left = sorted(j for bucket in by_text.values() for j in bucket)
    if left:
        j = left[0]
        raise DataFormatError(
            f"predicted sentence {pred.corpus[j].id!r} ({pred.corpus[j].text[:60]!r}) matches no gold sentence; "
            f"{len(left)} predicted sentences are left over",
            path=pred.path, line=pred.lines[j],
        )
    return pairs, "text"


def _moved(spans, text: str, ref_text: str) -> list[Span]:
    """Spans over ``text`` put on ``ref_text`` (the same text up to whitespace)."""
    before = []  # non-space characters before each position of text
    count = 0
    for ch in text:
        before.append(count)
        count += not ch.isspace()
    before.append(count)
    position = [k for k, ch in enumerate(ref_text) if not ch.isspace()]
    out = []
    for sp in spans:
        a, b = before[sp.start], before[sp.end]
        if a >= b:
            continue
        start, end = position[a], position[b - 1] + 1
        out.append(Span(start, end, sp.label, ref_text[start:end], sp.status))
    return out


def _tags_on(side: TaggedFile, k: int, ref: Sentence, tokens: tuple[Token, ...], notes: list) -> list[str]:
    s = side.corpus[k]
    if side.token_based:
        if s.words != [t.text for t in tokens]:
            n = next((i for i, (a, b) in enumerate(zip(s.words, (t.text for t in tokens))) if a != b),
                     min(len(s.words), len(tokens)))
            mine = s.words[n] if n < len(s.words) else "(end)"
            theirs = tokens[n].text if n < len(tokens) else "(end)"
            raise DataFormatError(
                f"sentence {s.id!r}: the tokens differ from the other file's at token {n + 1} "
                f"({mine!r} here, {theirs!r} there); two token files must share their tokens",
                path=side.path, line=side.lines[k],
            )
        return side.raw_tags[k]
    spans = _moved(s.spans_with(STATUSES), s.text, ref.text)
    starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
    notes.extend(sp for sp in spans if sp.start not in starts or sp.end not in ends)
    return spans_to_tags(tokens, spans)[0]


def align(gold: TaggedFile, pred: TaggedFile) -> Aligned:
    """Pair the sentences and put both files' tags on the same tokens."""
    pairs, how = _pairs(gold, pred)
    warnings: list[str] = []
    gold_tags, pred_tags, ids = [], [], []
    widened: list = []
    gold_widened: list = []
    for i, j in pairs:
        g, p = gold.corpus[i], pred.corpus[j]
        if gold.token_based:
            ref = g
        elif pred.token_based:
            ref = p
        else:
            bounds = [b for sp in g.spans for b in (sp.start, sp.end)]
            bounds += [b for sp in _moved(p.spans, p.text, g.text) for b in (sp.start, sp.end)]
            ref = Sentence(g.id, g.text, tokenize(g.text, bounds))
        tokens = ref.tokens
        gold_tags.append(_tags_on(gold, i, ref, tokens, gold_widened))
        pred_tags.append(_tags_on(pred, j, ref, tokens, widened))
        ids.append(g.id)
    if gold.token_based and is_iob1(gold.raw_tags):
        gold_tags = [s.tags(STATUSES) for s in (gold.corpus[i] for i, _ in pairs)]
        warnings.append(f"{gold.path}: gold tags are IOB1 (CoNLL-2003 style); scored as the IOB2 entities they mean")
    elif gold.token_based and any(t[:2] in ("S-", "E-") for tags in gold_tags for t in tags):
        gold_tags = [s.tags(STATUSES) for s in (gold.corpus[i] for i, _ in pairs)]
        warnings.append(f"{gold.path}: gold tags are BIOES; scored as the IOB2 entities they mean")
    elif gold.token_based and _unstarted(gold_tags):
        warnings.append(f"{gold.path}: {_unstarted(gold_tags)} gold entities start with I-X; strict scoring, "
                        "like seqeval's, does not count them")
    if pred.token_based and _unstarted(pred_tags):
        warnings.append(f"{pred.path}: {_unstarted(pred_tags)} predicted entities start with I-X (no B-X before "
                        "them); they are scored as written")
    if gold_widened:
        warnings.append(
            f"{gold.path}: {len(gold_widened)} gold spans start or end inside a predicted token; widened to whole tokens"
        )
    if widened:
        warnings.append(
            f"{pred.path}: {len(widened)} predicted spans start or end inside a gold token; widened to whole tokens"
        )
    return Aligned(ids, gold_tags, pred_tags, how, warnings)
