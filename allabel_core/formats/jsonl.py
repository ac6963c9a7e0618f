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
from collections.abc import Iterator, Sequence

from ..data.sentence import Sentence
from ._io import Source, json_meta, json_records
from . import _provenance
from ._records import record_id, require
from ._tags import TokenRecord, check_token_records, iob2_rows, token_sentence


def _each(text: str, src: Source) -> Iterator[tuple[TokenRecord, dict]]:
    for line, record in json_records(text, src):
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        tokens = require(record, "tokens", list, src, line)
        tags = require(record, "tags", list, src, line)
        yield TokenRecord(line, sid, tokens, tags), record


def read_records(text: str, src: Source) -> list[TokenRecord]:
    """The sentences as written: tokens and tags, unrepaired."""
    return [rec for rec, _ in _each(text, src)]


def read(text: str, src: Source, *, status: str) -> Iterator[tuple[int, Sentence]]:
    # Two passes over the lines: every record is checked (and the file's
    # tagging scheme told) before the first sentence is built, and no more
    # than one parsed record is held at a time.
    check_token_records((rec for rec, _ in _each(text, src)), src)
    for rec, record in _each(text, src):
        line, s = token_sentence(rec, src, status=status)
        yield line, _provenance.apply(s, record, src, line, tokens=True)


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
