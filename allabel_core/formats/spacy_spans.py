"""spaCy-style JSONL: ``{"id", "text", "spans": [{"start", "end", "label", "text"}]}``.

ALLabel's own span format (the sample corpus is in it) and close to what
Prodigy writes; extra keys, such as Prodigy's ``tokens``, are ignored. A span
may carry its ``text``, which is checked against ``text[start:end]``, and a
``status`` (gold, suggested, confirmed), a ``source`` (``"human"`` or the
predictor's name) and a ``score`` (a number), which are kept and written back. ``id`` is optional
(``line-N`` otherwise). A record's ``meta`` object, when present, becomes the
sentence's meta, and is written back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from ..data.sentence import Sentence
from ._io import Source, json_meta, json_records
from ._records import raw_span, record_id, require, span_items, span_sentence


def read(text: str, src: Source, *, status: str) -> Iterator[tuple[int, Sentence]]:
    for line, record in json_records(text, src):
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        body = require(record, "text", str, src, line)
        spans = require(record, "spans", list, src, line)
        meta = require(record, "meta", dict, src, line) if "meta" in record else None
        raw = [raw_span(item, where) for where, item in span_items(spans, src, line)]
        yield line, span_sentence(sid, body, raw, src, line, status=status, meta=meta)


def _span(sp) -> dict:
    out = {"start": sp.start, "end": sp.end, "label": sp.label, "text": sp.text, "status": sp.status}
    if sp.source is not None:
        out["source"] = sp.source
    if sp.score is not None:
        out["score"] = sp.score
    return out


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines, warnings = [], []
    for s in sentences:
        record = {
            "id": s.id,
            "text": s.text,
            "spans": [_span(sp) for sp in s.spans_with(statuses)],
        }
        meta = json_meta(s, warnings)
        if meta:
            record["meta"] = meta
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines), warnings
