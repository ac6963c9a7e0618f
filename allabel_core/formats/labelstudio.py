"""Label Studio tasks: a JSON array of ``{"data": {"text": ...}, "annotations" |
"predictions": [{"result": [...]}]}``.

Each result of type ``labels`` is a span, ``value`` holding ``start``,
``end``, ``text`` and ``labels`` (one span per label). Annotations are read
with the reader's status (``gold`` by default), predictions as
``suggested``; when a task has both, the annotations win and the predictions
are not read. Of several annotations (or predictions) the first that was not
cancelled is read, with a warning. A prediction's ``score`` and
``model_version`` go to the sentence's meta (Label Studio users sort on the
score) and are written back.

Ids: Label Studio numbers tasks itself, so ALLabel writes its id into
``data.id``, which survives an import and export; on reading, ``data.id``
wins over the task's own ``id``, and a task with neither is ``record-N``.
Errors say "record N" and give the line where that task starts.

A sentence is written with an annotation only if it has spans of a trusted
status (gold, confirmed): the model cannot tell "no entities" from "not yet
annotated", and claiming the latter as done would be worse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ..data.sentence import Sentence, Span
from ._io import Source, a_kind
from ._records import RawSpan, record_id, require, span_sentence

_WS = re.compile(r"[ \t\n\r]*")
_META = ("score", "model_version")


class _Lines:
    """Line numbers of increasing offsets, counted once."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _tasks(text: str, src: Source) -> list[tuple[int, object]]:
    """``(line, task)`` for each element of the top-level array."""
    line_of, decoder = _Lines(text), json.JSONDecoder()
    pos = _WS.match(text).end()
    if text[pos] != "[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise src.error(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
        hint = "; a single task must still be wrapped in [ ]" if isinstance(value, dict) and "data" in value else ""
        raise src.error(f"the top level must be a JSON array of tasks, found {a_kind(value)}{hint}", line_of(pos))
    items: list[tuple[int, object]] = []
    opened = line_of(pos)
    pos = _WS.match(text, pos + 1).end()
    closed = pos < len(text) and text[pos] == "]"
    while not closed:
        start = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            reason = f"record {len(items) + 1}: invalid JSON: {exc.msg} (column {exc.colno})"
            raise src.error(reason, exc.lineno) from None
        items.append((line_of(start), value))
        pos = _WS.match(text, pos).end()
        if pos >= len(text):
            raise src.error("the array of tasks is not closed: ']' is missing at the end", line_of(len(text)))
        if text[pos] == "]":
            closed = True
        elif text[pos] == ",":
            pos = _WS.match(text, pos + 1).end()
        else:
            raise src.error(f"record {len(items)}: expected ',' or ']' after it, found {text[pos]!r}", line_of(pos))
    pos = _WS.match(text, pos + 1).end()
    if pos < len(text):
        raise src.error(f"unexpected {text[pos:pos + 20]!r} after the array of tasks", line_of(pos))
    if not items:
        raise src.error("the array holds no tasks", opened)
    return items


def _choose(task: dict, number: int, line: int, src: Source, status: str) -> tuple[str, dict | None, str]:
    for key, st in (("annotations", status), ("predictions", "suggested")):
        if key not in task:
            continue
        entries = require(task, key, list, src, line, f"record {number}: ")
        usable = [e for e in entries if not (isinstance(e, dict) and e.get("was_cancelled"))]
        if usable:
            if len(usable) > 1:
                src.note(f"task with several {key}, the first read", f"record {number} (line {line})")
            entry = usable[0]
            if not isinstance(entry, dict):
                raise src.error(f"record {number}: each of {key!r} must be an object, got {a_kind(entry)}", line)
            return key, entry, st
    return "annotations", None, status


def _task(number: int, line: int, task: object, src: Source, status: str) -> Sentence:
    where = f"record {number}: "
    if not isinstance(task, dict):
        raise src.error(f"{where}a task must be an object {{\"data\": ...}}, got {a_kind(task)}", line)
    data = require(task, "data", dict, src, line, where)
    body = require(data, "text", str, src, line, f"{where}in 'data', ")
    sid = record_id(data["id"] if "id" in data else task.get("id"), f"record-{number}", src, line, where)
    key, entry, st = _choose(task, number, line, src, status)
    raw, meta = [], {}
    if entry is not None:
        if key == "predictions":
            meta = {k: entry[k] for k in _META if k in entry}
        results = require(entry, "result", list, src, line, f"{where}{key[:-1]}: ")
        for n, result in enumerate(results, 1):
            here = f"record {number}, result {n}"
            if not isinstance(result, dict):
                raise src.error(f"{here}: a result must be an object, got {a_kind(result)}", line)
            if result.get("type", "labels") != "labels":
                src.note("results of a type other than 'labels' skipped", f"{here} ({result['type']!r})")
                continue
            value = require(result, "value", dict, src, line, f"{here}: ")
            for k in ("start", "end", "labels"):
                require(value, k, object, src, line, f"{here}: in 'value', ")
            labels = value["labels"]
            if not isinstance(labels, list) or not labels:
                raise src.error(f"{here}: 'labels' must be a non-empty list, got {labels!r}", line)
            raw += [RawSpan(value["start"], value["end"], label, here, value.get("text")) for label in labels]
    return span_sentence(sid, body, raw, src, line, status=st, meta=meta, where=where)


def read(text: str, src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    return [(line, _task(n, line, task, src, status)) for n, (line, task) in enumerate(_tasks(text, src), 1)]


def _results(spans: Sequence[Span]) -> list[dict]:
    return [
        {
            "id": f"r{k}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": sp.start, "end": sp.end, "text": sp.text, "labels": [sp.label]},
        }
        for k, sp in enumerate(spans, 1)
    ]


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    tasks = []
    for s in sentences:
        spans = s.spans_with(statuses)
        trusted = [sp for sp in spans if sp.status != "suggested"]
        suggested = [sp for sp in spans if sp.status == "suggested"]
        task: dict = {"data": {"text": s.text, "id": s.id}}
        if trusted:
            task["annotations"] = [{"result": _results(trusted)}]
        if suggested:
            meta = {k: s.meta[k] for k in _META if k in s.meta}
            task["predictions"] = [{"result": _results(suggested), **meta}]
        tasks.append(json.dumps(task, ensure_ascii=False))
    if not tasks:
        return "[]\n", []
    return "[\n" + ",\n".join(tasks) + "\n]\n", []
