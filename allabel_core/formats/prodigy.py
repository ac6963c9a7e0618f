"""Prodigy JSONL, as ``prodigy db-out`` writes it: ``{"text", "tokens",
"spans", "answer", "meta", "_input_hash", "_task_hash", ...}`` per line.

- ``answer``: only ``accept`` records are read (as the reader's status,
  ``gold`` by default). ``reject`` and ``ignore`` records are left out and
  counted in the warnings, with their lines. A record without ``answer`` is
  read as given, with a note. Any other answer is an error.
- ``spans`` is optional: Prodigy leaves it out of a record with no entities,
  which is read as a sentence without entities. A span may carry ``text``
  (checked), ``source`` and ``score`` (kept), and ``token_start`` and
  ``token_end``, which are checked against ``tokens``.
- ``tokens`` (``{"text", "start", "end", "id"}``), when present, are checked
  against the text, and span offsets against them: a file whose offsets do
  not fit its own tokens is refused, naming the record and span.
- ``meta`` (an object) becomes the sentence's meta, and is written back.
- Binary answers (``"_view_id": "ner"``, from ``ner.teach``): an accepted
  record says that its span is right, not that the sentence has no other
  entity; accepted answers on the same text (one ``_input_hash``) are merged
  into one sentence, and a note says the annotation is partial.

Ids: a record's ``id`` when present, else ``line-N`` (N the line of the first
record of that text). Writing gives records Prodigy's ``db-in`` takes:
``text``, ``tokens`` (ALLabel's tokenization, with ``ws``), ``spans`` with
``token_start``/``token_end`` (plus ``source``/``score`` when known, and
``status`` when not gold), ``answer: "accept"``, ``meta`` and ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..data.sentence import Sentence
from ._io import Source, a_kind, json_kind, json_meta, json_records
from ._records import RawSpan, is_int, raw_span, record_id, require, span_items, span_sentence

ANSWERS = ("accept", "reject", "ignore")


def _check_tokens(record: dict, body: str, src: Source, line: int) -> list[tuple[int, int]] | None:
    """The ``(start, end)`` of each token, each checked against the text."""
    if "tokens" not in record:
        return None
    tokens = require(record, "tokens", list, src, line)
    out = []
    for n, tok in enumerate(tokens, 1):
        where = f"token {n}"
        if not isinstance(tok, dict):
            raise src.error(f"{where} must be an object {{text, start, end}}, got {a_kind(tok)}", line)
        for key in ("start", "end"):
            if not is_int(tok.get(key)):
                raise src.error(f"{where}: {key!r} must be an integer, got {json_kind(tok.get(key))}", line)
        start, end = tok["start"], tok["end"]
        stored = tok.get("text")
        if not (0 <= start <= end <= len(body)) or (isinstance(stored, str) and body[start:end] != stored):
            raise src.error(
                f"{where} says {stored!r} at [{start}, {end}) but the text there is {body[start:end]!r}; "
                "the offsets do not fit the text",
                line,
            )
        out.append((start, end))
    return out


def _raw_spans(record: dict, tokens: list[tuple[int, int]] | None, src: Source, line: int) -> list[RawSpan]:
    if "spans" not in record:
        return []
    spans = require(record, "spans", list, src, line)
    raw = []
    for where, item in span_items(spans, src, line):
        if tokens is not None and ("token_start" in item or "token_end" in item):
            ts, te = item.get("token_start"), item.get("token_end")
            if not (is_int(ts) and is_int(te) and 0 <= ts <= te < len(tokens)):
                raise src.error(
                    f"{where}: token_start/token_end {ts!r}/{te!r} do not name tokens (the record has {len(tokens)})",
                    line,
                )
            if (tokens[ts][0], tokens[te][1]) != (item["start"], item["end"]):
                raise src.error(
                    f"{where}: offsets [{item['start']}, {item['end']}) do not match its tokens {ts}..{te}, "
                    f"which cover [{tokens[ts][0]}, {tokens[te][1]})",
                    line,
                )
        raw.append(raw_span(item, where))
    return raw


def read(text: str, src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    groups: dict[object, dict] = {}
    order: list[dict] = []
    binary = 0
    for line, record in json_records(text, src):
        answer = record.get("answer")
        if answer is not None and answer not in ANSWERS:
            raise src.error(f"'answer' must be one of {', '.join(ANSWERS)}, got {answer!r}", line)
        if answer in ("reject", "ignore"):
            src.note(f"records answered {answer!r} left out (only 'accept' is read)", f"line {line}")
            continue
        body = require(record, "text", str, src, line)
        tokens = _check_tokens(record, body, src, line)
        raw = _raw_spans(record, tokens, src, line)
        meta = require(record, "meta", dict, src, line) if "meta" in record else {}
        if answer is None:
            src.note("records without an 'answer' read as given", f"line {line}")
        if record.get("_view_id") == "ner":
            binary += 1
        key = record.get("_input_hash", object())
        if key in groups and groups[key]["text"] == body:
            group = groups[key]
            group["raw"] += [RawSpan(r.start, r.end, r.label, f"line {line}, {r.where}", r.text, r.status, r.source,
                                     r.score) for r in raw]
            src.note("accepted answers on one text (_input_hash) merged into one sentence", f"line {line}")
            continue
        sid = record_id(record.get("id"), f"line-{line}", src, line)
        group = {"line": line, "id": sid, "text": body, "raw": raw, "meta": meta}
        groups[key] = group
        order.append(group)
    if binary:
        src.warn(
            f"{binary} accepted binary answers (ner.teach, _view_id 'ner'): each says its span is right, "
            "not that the sentence holds no other entity; the sentences are partly annotated"
        )
    return [
        (g["line"], span_sentence(g["id"], g["text"], g["raw"], src, g["line"], status=status, meta=g["meta"]))
        for g in order
    ]


def span_record(sp, token_index: dict[int, int] | None = None, token_end: dict[int, int] | None = None) -> dict:
    """A span as a JSON object, with its source, score and non-gold status."""
    out: dict = {"start": sp.start, "end": sp.end, "label": sp.label, "text": sp.text}
    if token_index is not None and sp.start in token_index and sp.end in token_end:
        out["token_start"], out["token_end"] = token_index[sp.start], token_end[sp.end]
    if sp.source is not None:
        out["source"] = sp.source
    if sp.score is not None:
        out["score"] = sp.score
    if sp.status != "gold":
        out["status"] = sp.status
    return out


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines, warnings = [], []
    for s in sentences:
        starts = {t.start: i for i, t in enumerate(s.tokens)}
        ends = {t.end: i for i, t in enumerate(s.tokens)}
        tokens = [
            {"text": t.text, "start": t.start, "end": t.end, "id": i,
             "ws": t.end < len(s.text) and s.text[t.end].isspace()}
            for i, t in enumerate(s.tokens)
        ]
        record: dict = {
            "id": s.id,
            "text": s.text,
            "tokens": tokens,
            "spans": [span_record(sp, starts, ends) for sp in s.spans_with(statuses)],
            "answer": "accept",
        }
        meta = json_meta(s, warnings)
        if meta is not None:
            record["meta"] = meta
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines), warnings
