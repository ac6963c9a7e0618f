"""Unlabelled JSONL: ``{"text": ..., "id"?: ..., "meta"?: {...}}`` per line.

The usual input of Prodigy, doccano and Label Studio before annotation: a
pool of sentences with no labels. ``id`` is kept when present (``line-N``
otherwise). ``meta`` must be an object and becomes the sentence's meta; any
other key (a ``pmid``, a ``source``) is kept in the meta too, as doccano keeps
unknown columns, with ``meta``'s own keys winning. ``text_column=`` names
another key holding the text (``"abstract"``). A record whose text is empty
or only whitespace is skipped, with a note. Writing gives ``{"id", "text"}``
and ``meta`` when the sentence has one; spans are not written (one warning
says how many).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from ..data.sentence import Sentence
from ._io import Source, json_meta, json_records
from ._records import record_id, require

_OWN = ("id", "meta")


def read(text: str, src: Source, *, status: str, text_column: str | None = None) -> Iterator[tuple[int, Sentence]]:
    key = text_column or "text"
    for line, record in json_records(text, src):
        body = require(record, key, str, src, line)
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        meta = {k: v for k, v in record.items() if k != key and k not in _OWN}
        if "meta" in record:
            meta.update(require(record, "meta", dict, src, line))
        if not body.strip():
            src.note("record with empty text skipped", f"line {line}")
            continue
        yield line, Sentence.from_text(sid, body, meta=meta)


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines, warnings, n_spans = [], [], 0
    for s in sentences:
        n_spans += len(s.spans_with(statuses))
        record: dict = {"id": s.id, "text": s.text}
        meta = json_meta(s, warnings)
        if meta is not None:
            record["meta"] = meta
        lines.append(json.dumps(record, ensure_ascii=False))
    if n_spans:
        warnings.append(f"{n_spans} spans not written: unlabelled JSONL holds no labels")
    return "".join(line + "\n" for line in lines), warnings
