"""JSONL tokens/tags: ``{"id": ..., "tokens": [...], "tags": [...]}`` per line.

The format of the datasets in ``../shared/datasets``. Tokens are
authoritative: a sentence's text is its tokens joined by single spaces. A
record without an ``id`` gets ``line-N``, N its line. Tags are written as
IOB2; spans of other statuses than those asked for are left out, and the
status itself is not stored (it is the reader's ``status`` on the way back).
Each span's ``source`` and ``score`` go in the record's ``provenance`` list
(see :mod:`._provenance`), read back by this reader.
A sentence's meta (a prediction's outcome, say) is written as a ``meta``
object; reading ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..data.sentence import Sentence
from ._io import Source, json_meta, json_records
from . import _provenance
from ._records import record_id, require
from ._tags import TokenRecord, iob2_rows, token_sentences


def _records(text: str, src: Source) -> tuple[list[TokenRecord], list[dict]]:
    records, raw = [], []
    for line, record in json_records(text, src):
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        tokens = require(record, "tokens", list, src, line)
        tags = require(record, "tags", list, src, line)
        records.append(TokenRecord(line, sid, tokens, tags))
        raw.append(record)
    return records, raw


def read_records(text: str, src: Source) -> list[TokenRecord]:
    """The sentences as written: tokens and tags, unrepaired."""
    return _records(text, src)[0]


def read(text: str, src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    records, raw = _records(text, src)
    return [
        (line, _provenance.apply(s, record, src, line, tokens=True))
        for (line, s), record in zip(token_sentences(records, src, status=status), raw)
    ]


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    warnings: list[str] = []
    lines = []
    for s, tags in iob2_rows(sentences, statuses, warnings):
        record = {"id": s.id, "tokens": s.words, "tags": tags}
        side = _provenance.entries(s.spans_with(statuses), _provenance.token_maps(s))
        if side:
            record[_provenance.FIELD] = side
        meta = json_meta(s, warnings)
        if meta:
            record["meta"] = meta
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines), warnings
