"""doccano sequence-labelling JSONL: ``{"text": ..., "label": [[start, end, "LABEL"], ...]}``.

The older ``labels`` key is accepted on import. An ``id`` is kept when
present (doccano numbers its records); otherwise the record is ``line-N``, N
its line. doccano stores no span text, so offsets are trusted as code points.
Spans are written for the statuses asked for; doccano has no status field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..data.sentence import Sentence
from ._io import Source, a_kind, json_records
from ._records import RawSpan, record_id, require, span_sentence


def read(text: str, src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    out = []
    for line, record in json_records(text, src):
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        body = require(record, "text", str, src, line)
        key = "label" if "label" in record or "labels" not in record else "labels"
        spans = require(record, key, list, src, line)
        raw = []
        for n, item in enumerate(spans, 1):
            if not isinstance(item, list) or len(item) != 3:
                got = f"a list of {len(item)}" if isinstance(item, list) else a_kind(item)
                raise src.error(f"span {n} must be [start, end, label], got {got}: {item!r}", line)
            raw.append(RawSpan(item[0], item[1], item[2], where=f"span {n}"))
        out.append((line, span_sentence(sid, body, raw, src, line, status=status)))
    return out


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines = []
    for s in sentences:
        label = [[sp.start, sp.end, sp.label] for sp in s.spans_with(statuses)]
        lines.append(json.dumps({"id": s.id, "text": s.text, "label": label}, ensure_ascii=False))
    return "".join(line + "\n" for line in lines), []
