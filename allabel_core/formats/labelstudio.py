"""Label Studio tasks: a JSON array of ``{"id", "data": {"text": ...},
"annotations" | "predictions": [{"result": [...]}]}``, or one task object.

Each result of type ``labels`` is a span, ``value`` holding ``start``,
``end``, ``text`` and ``labels`` (one span per label). Annotations are read
with the reader's status (``gold`` by default) and source ``"human"``;
predictions as ``suggested``, with the prediction's ``model_version`` as the
span's source and a result's own ``score`` as its score. When a task has
both, the annotations win and the predictions are not read. Of several
annotations (or predictions) the first that was not cancelled is read, with
a warning. A prediction's ``score`` and ``model_version`` go to the
sentence's meta (Label Studio users sort on the score) and are written back.
A task without the ``data`` wrapper (the whole object is the data, as Label
Studio accepts) is read too. ``text_column=`` names the data key of a
project whose labeling config reads another one (``value="$abstract"``).

What a task was read with is kept in ``meta["labelstudio"]``: its integer
``id``, the ``from_name``/``to_name`` of its results (whatever the project's
labeling config called its tags), whether it had an ``annotation``, and the
data key of its text when not ``text``. The
task's own ``meta`` object becomes the sentence's meta. All of it is written
back.

Ids: Label Studio numbers tasks itself, so ALLabel writes its id into
``data.id``, which survives an import and export; on reading, ``data.id``
wins over the task's own ``id``, and a task with neither is ``record-N``.
Written tasks carry an integer ``id`` (the one read, else the next free
number), as Label Studio's converter needs. Errors say "record N" and give
the line where that task starts.

Annotations: a sentence a person finished gets an annotation, with an empty
``result`` when it has no entities (Label Studio counts a task with no
annotation as not done, and its converter skips it). Which sentences are
finished is the writer's ``annotated`` option: ``True`` (all), a set of
ids, or ``None`` (only those with spans of a trusted status). A
:class:`~allabel_core.data.corpus.Corpus` read from a labelled format is finished
throughout by default (Label Studio tasks that had no annotation aside).
Suggested spans become ``predictions``, one per source (``model_version``),
each result with its span's ``score`` and the prediction with the sentence's
``meta["score"]``, or else its lowest span score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..data.sentence import Sentence, Span
from ._io import Source, a_kind, json_array, json_meta
from ._records import RawSpan, is_int, record_id, require, span_sentence

_META = ("score", "model_version")
KEY = "labelstudio"
DEFAULT_NAMES = ("label", "text")


def _tasks(text: str, src: Source) -> list[tuple[int, object]]:
    """``(line, task)`` for each element of the top-level array, or the one task."""
    pos = len(text) - len(text.lstrip(" \t\n\r"))
    if text[pos] != "[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise src.error(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
        if isinstance(value, dict):  # one task, as Label Studio also accepts
            return [(text.count("\n", 0, pos) + 1, value)]
        raise src.error(f"the top level must be a JSON array of tasks or one task object, found {a_kind(value)}",
                        text.count("\n", 0, pos) + 1)
    return json_array(text, src, "tasks")


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


# Keys Label Studio's JSON-min export adds to each annotated record.
_JSON_MIN = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement")


def _is_span_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, dict) and {"start", "end", "labels"} <= set(v) for v in value
    )


def _json_min_entry(task: dict, text_key: str) -> dict | None:
    """An annotation built from a JSON-min record (``{"text", "label": [{start,
    end, text, labels}], "annotation_id", ...}``), or None if it is not one."""
    names = [k for k, v in task.items() if k != text_key and _is_span_list(v)]
    if not names and not any(k in task for k in ("annotator", "annotation_id")):
        return None
    result = [
        {"from_name": name, "to_name": text_key, "type": "labels", "value": value}
        for name in names for value in task[name]
    ]
    return {"result": result}


def _task(number: int, line: int, task: object, src: Source, status: str, text_key: str = "text") -> Sentence:
    where = f"record {number}: "
    if not isinstance(task, dict):
        raise src.error(f"{where}a task must be an object {{\"data\": ...}}, got {a_kind(task)}", line)
    if "data" not in task and text_key in task:  # no wrapper: the whole object is the data
        data = task
        body = require(task, text_key, str, src, line, where)
    else:
        data = require(task, "data", dict, src, line, where)
        body = require(data, text_key, str, src, line, f"{where}in 'data', ")
    sid = record_id(data["id"] if "id" in data else task.get("id"), f"record-{number}", src, line, where)
    key, entry, st = _choose(task, number, line, src, status)
    raw, meta = [], {}
    if data is task:
        minimal = _json_min_entry(task, text_key) if entry is None else None
        if minimal is not None:  # Label Studio's JSON-min export: spans under the tag's name
            key, entry, st = "annotations", minimal, status
            src.note("Label Studio JSON-min records, spans read from the keys named for their tags",
                     f"record {number} ({', '.join(sorted({r['from_name'] for r in minimal['result']})) or 'none'})")
        spans_keys = {r["from_name"] for r in minimal["result"]} if minimal else set()
        # the other keys of a bare task are its data: kept as meta
        meta.update({k: v for k, v in task.items()
                     if k not in (text_key, "id", "annotations", "predictions", "meta", *spans_keys, *_JSON_MIN)})
    if "meta" in task:
        meta.update(require(task, "meta", dict, src, line, where))
    kept: dict = {"annotated": entry is not None and key == "annotations"}
    if text_key != "text":
        kept["data_key"] = text_key
    if is_int(task.get("id")):
        kept["id"] = task["id"]
    source = "human"
    if entry is not None:
        if key == "predictions":
            meta.update({k: entry[k] for k in _META if k in entry})
            source = entry.get("model_version") if isinstance(entry.get("model_version"), str) else None
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
            for name in ("from_name", "to_name"):
                if isinstance(result.get(name), str):
                    kept.setdefault(name, result[name])
            score = result.get("score") if key == "predictions" else None
            raw += [
                RawSpan(value["start"], value["end"], label, here, value.get("text"), None, source, score)
                for label in labels
            ]
    meta[KEY] = kept
    return span_sentence(sid, body, raw, src, line, status=st, meta=meta, where=where)


def was_annotated(sentence: Sentence) -> bool:
    """False only for a sentence read from a Label Studio task without an annotation."""
    kept = sentence.meta.get(KEY)
    return not (isinstance(kept, dict) and kept.get("annotated") is False)


def read(text: str, src: Source, *, status: str, text_column: str | None = None) -> list[tuple[int, Sentence]]:
    key = text_column or "text"
    return [(line, _task(n, line, task, src, status, key)) for n, (line, task) in enumerate(_tasks(text, src), 1)]


def _results(spans: Sequence[Span], names: tuple[str, str], scores: bool = False) -> list[dict]:
    out = []
    for k, sp in enumerate(spans, 1):
        result = {
            "id": f"r{k}",
            "from_name": names[0],
            "to_name": names[1],
            "type": "labels",
            "value": {"start": sp.start, "end": sp.end, "text": sp.text, "labels": [sp.label]},
        }
        if scores and sp.score is not None:
            result["score"] = sp.score
        out.append(result)
    return out


def _names(s: Sentence) -> tuple[str, str]:
    kept = s.meta.get(KEY) if isinstance(s.meta.get(KEY), dict) else {}
    names = zip(("from_name", "to_name"), DEFAULT_NAMES)
    return tuple(kept[n] if isinstance(kept.get(n), str) else default for n, default in names)


def _task_ids(sentences: Sequence[Sentence]) -> list[int]:
    """The integer id each task was read with, where unique; the next free numbers otherwise."""
    wanted = []
    for s in sentences:
        kept = s.meta.get(KEY)
        wanted.append(kept.get("id") if isinstance(kept, dict) and is_int(kept.get("id")) else None)
    counts: dict = {}
    for w in wanted:
        counts[w] = counts.get(w, 0) + 1
    used = {w for w in wanted if w is not None and counts[w] == 1}
    out, nxt = [], 1
    for w in wanted:
        if w is not None and counts[w] == 1:
            out.append(w)
            continue
        while nxt in used:
            nxt += 1
        used.add(nxt)
        out.append(nxt)
    return out


def _predictions(s: Sentence, spans: list[Span], names: tuple[str, str]) -> list[dict]:
    by_source: dict = {}
    for sp in spans:
        by_source.setdefault(sp.source, []).append(sp)
    out = []
    for source, group in by_source.items():
        entry: dict = {"result": _results(group, names, scores=True)}
        version = source if source is not None else s.meta.get("model_version")
        if version is not None:
            entry["model_version"] = version
        scores = [sp.score for sp in group if sp.score is not None]
        if "score" in s.meta:
            entry["score"] = s.meta["score"]
        elif scores:
            entry["score"] = min(scores)
        out.append(entry)
    return out


def write(
    sentences: Sequence[Sentence], statuses: Sequence[str], *, annotated: bool | set | None = None
) -> tuple[str, list[str]]:
    tasks, warnings = [], []
    for s, task_id in zip(sentences, _task_ids(sentences)):
        spans = s.spans_with(statuses)
        trusted = [sp for sp in spans if sp.status != "suggested"]
        suggested = [sp for sp in spans if sp.status == "suggested"]
        names = _names(s)
        kept = s.meta.get(KEY) if isinstance(s.meta.get(KEY), dict) else {}
        data_key = kept.get("data_key") if isinstance(kept.get("data_key"), str) else "text"
        task: dict = {"id": task_id, "data": {data_key: s.text, "id": s.id}}
        finished = annotated is True or (annotated is not None and s.id in annotated)
        if trusted or (finished and set(statuses) - {"suggested"}):
            task["annotations"] = [{"result": _results(trusted, names)}]
        if suggested:
            task["predictions"] = _predictions(s, suggested, names)
        extra = json_meta(s, warnings, exclude=(KEY, *_META))
        if extra is not None:
            task["meta"] = extra
        tasks.append(json.dumps(task, ensure_ascii=False))
    if not tasks:
        return "[]\n", warnings
    return "[\n" + ",\n".join(tasks) + "\n]\n", warnings
