"""doccano JSONL, both of its sequence-labelling exports.

- Sequence labelling: ``{"text": ..., "label": [[start, end, "LABEL"], ...]}``
  (the older ``labels`` key is accepted on import).
- Projects with relations: ``{"text": ..., "entities": [{"id", "label",
  "start_offset", "end_offset"}], "relations": [{"id", "from_id", "to_id",
  "type"}]}``. Entities are read as spans; relations are kept in the
  sentence's ``meta["relations"]`` as ``{"id", "type", "from": [start, end,
  label], "to": [...]}`` (a note counts them), and written back in this
  shape when any sentence has them. A relation naming an entity the record
  does not have is an error.

An ``id`` is kept when present (doccano numbers its records); otherwise the
record is ``line-N``, N its line. doccano stores no span text, so offsets
are trusted as code points. Spans are written for the statuses asked for;
doccano has no status field. A span's ``source`` and ``score`` go in the
record's ``provenance`` list (see :mod:`._provenance`), which doccano keeps
as metadata, and are read back.
Other meta of a sentence (a prediction's outcome, say) is written as a
``meta`` object, which doccano keeps as the example's metadata; reading
ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from ..data.sentence import Sentence
from . import _provenance
from ._io import Source, a_kind, json_meta, json_records
from ._records import RawSpan, is_int, record_id, require, span_sentence


def _entities(record: dict, src: Source, line: int) -> tuple[list[RawSpan], dict]:
    entities = require(record, "entities", list, src, line)
    raw, by_id = [], {}
    for n, item in enumerate(entities, 1):
        where = f"entity {n}"
        if not isinstance(item, dict):
            raise src.error(f"{where} must be an object {{id, label, start_offset, end_offset}}, got {a_kind(item)}",
                            line)
        for key in ("label", "start_offset", "end_offset"):
            require(item, key, object, src, line, f"{where}: ")
        span = RawSpan(item["start_offset"], item["end_offset"], item["label"], where)
        raw.append(span)
        if "id" in item:
            by_id[item["id"]] = span
    return raw, by_id


def _relations(record: dict, by_id: dict, src: Source, line: int) -> list[dict]:
    if "relations" not in record:
        return []
    out = []
    for n, rel in enumerate(require(record, "relations", list, src, line), 1):
        where = f"relation {n}"
        if not isinstance(rel, dict):
            raise src.error(f"{where} must be an object {{from_id, to_id, type}}, got {a_kind(rel)}", line)
        ends = []
        for key in ("from_id", "to_id"):
            if rel.get(key) not in by_id:
                raise src.error(f"{where}: {key} {rel.get(key)!r} names no entity of this record", line)
            e = by_id[rel[key]]
            ends.append([e.start, e.end, e.label])
        out.append({"id": rel.get("id"), "type": rel.get("type"), "from": ends[0], "to": ends[1]})
    return out


def read(text: str, src: Source, *, status: str) -> Iterator[tuple[int, Sentence]]:
    for line, record in json_records(text, src):
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        body = require(record, "text", str, src, line)
        meta = {}
        if "entities" in record and "label" not in record and "labels" not in record:
            raw, by_id = _entities(record, src, line)
            relations = _relations(record, by_id, src, line)
            if relations:
                meta["relations"] = relations
                src.note("relations kept in the sentence's meta['relations'], not as entities",
                         f"line {line} ({len(relations)})")
        else:
            key = "label" if "label" in record or "labels" not in record else "labels"
            spans = require(record, key, list, src, line)
            raw = []
            for n, item in enumerate(spans, 1):
                if not isinstance(item, list) or len(item) != 3:
                    got = f"a list of {len(item)}" if isinstance(item, list) else a_kind(item)
                    raise src.error(f"span {n} must be [start, end, label], got {got}: {item!r}", line)
                raw.append(RawSpan(item[0], item[1], item[2], where=f"span {n}"))
        sentence = span_sentence(sid, body, raw, src, line, status=status, meta=meta)
        yield line, _provenance.apply(sentence, record, src, line)


def _relation_record(s: Sentence, spans, next_id: list[int], warnings: list[str]) -> dict:
    ids = {}
    entities = []
    for sp in spans:
        next_id[0] += 1
        ids[(sp.start, sp.end, sp.label)] = next_id[0]
        entities.append({"id": next_id[0], "label": sp.label, "start_offset": sp.start, "end_offset": sp.end})
    relations = []
    for rel in s.meta.get("relations", []):
        try:
            a, b = ids[tuple(rel["from"])], ids[tuple(rel["to"])]
        except (KeyError, TypeError):
            warnings.append(
                f"sentence {s.id!r}: relation {rel.get('type')!r} not written, an end is not among its spans"
            )
            continue
        rid = rel.get("id")
        relations.append({"id": rid if is_int(rid) else len(relations) + 1, "from_id": a, "to_id": b,
                          "type": rel.get("type")})
    return {"id": s.id, "text": s.text, "entities": entities, "relations": relations}


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines, warnings = [], []
    relation_mode = any(s.meta.get("relations") for s in sentences)
    next_id = [0]
    for s in sentences:
        spans = s.spans_with(statuses)
        if relation_mode:
            record = _relation_record(s, spans, next_id, warnings)
        else:
            record = {"id": s.id, "text": s.text, "label": [[sp.start, sp.end, sp.label] for sp in spans]}
        side = _provenance.entries(spans)
        if side:
            record[_provenance.FIELD] = side
        meta = json_meta(s, warnings, exclude=("relations",))
        if meta:
            record["meta"] = meta
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines), warnings
