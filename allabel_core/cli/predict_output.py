"""Where ``allabel predict`` writes as it goes, and how an interrupted run
is resumed.

Beside ``--out pred.jsonl`` the command keeps ``pred.run.json``, its run
record: what the answers depend on (the predictor and its answer-changing
parameters, the demonstrations of ``--labeled`` with their spans, the
output format) and whether the run finished. A run into an output whose
record says *not finished* resumes it when that identity is the same:
every sentence whose record there succeeded (outcome ``ok``) is kept and
not predicted again; the others (failed, cut short, unreadable, or not
reached) are. With another identity it refuses (``--restart`` starts
over). A finished output is replaced by the next run, as before.

Resuming needs a format whose records carry the sentence id, the outcome
and the predicted spans: :data:`RESUMABLE`. Other outputs are written into
a temporary file and renamed at the end, so a stopped run leaves the
previous output as it was, and the next run starts from the beginning
(an LLM's answers come from its cache).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from ..data.sentence import TRUSTED
from ..errors import DataFormatError
from ..predictors.identity import digest, predictor_identity

RESUMABLE = ("jsonl", "spacy", "doccano", "prodigy")
RECORD_VERSION = 1
# Recorded to describe the run, but a difference in them does not stop a resume.
_NOT_ANSWERS = ("cache",)


def run_record_path(out: str | Path) -> Path:
    """``pred.jsonl`` -> ``pred.run.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.run.json")


def run_identity(predictor, demonstrations, out_format: str) -> dict:
    """What the answers written to the output depend on, part by part."""
    ident = predictor_identity(predictor)
    params = {k: v for k, v in ident["params"].items() if k not in _NOT_ANSWERS}
    return {
        "predictor": digest([ident["name"], params]),
        "demonstrations": digest([[s.id, s.text, sorted(sp.key() for sp in s.spans_with(TRUSTED))]
                                  for s in demonstrations]),
        "out_format": out_format,
    }


_WHAT = {"predictor": "a predictor or predictor parameters (--predictor, --model, --k, --schema, --label, ...)",
         "demonstrations": "demonstrations (the sentences or spans of --labeled)",
         "out_format": "an output format"}


def identity_differences(before: dict, now: dict) -> list[str]:
    """What differs between two :func:`run_identity` values, in words."""
    return [_WHAT[k] for k in _WHAT if before.get(k) != now.get(k)]


def read_run_record(path: Path) -> dict | None:
    """The run record, or None when there is none (or it is not one)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == RECORD_VERSION else None


def write_run_record(path: Path, identity: dict, *, finished: bool, data: str, total: int) -> None:
    from ..io.atomic import atomic_write_text

    atomic_write_text(path, json.dumps({"version": RECORD_VERSION, "finished": finished, "data": data,
                                        "sentences": total, "identity": identity}, indent=1) + "\n")


@dataclass
class Previous:
    """What an interrupted output holds: ``kept``, the ids answered there
    (id -> byte offset of the record, after :func:`keep_answered`),
    ``dropped`` the records of sentences that did not succeed, ``torn``
    whether a record cut short by the interruption was at the end."""

    kept: dict[str, int]
    dropped: int
    torn: bool


def _records(out: Path):
    """``(offset, line number, raw line, complete)`` for each line."""
    with open(out, "rb") as f:
        offset = 0
        for number, raw in enumerate(f, 1):
            yield offset, number, raw, raw.endswith(b"\n")
            offset += len(raw)


def scan_output(out: Path, data_ids: set[str]) -> Previous:
    """Read an interrupted output: each line must be a record this command
    wrote for a sentence of ``--data`` (a cut last line aside)."""
    kept: dict[str, int] = {}
    seen: set[str] = set()
    dropped = 0
    torn = False
    hint = "is it the output of another command? pass --restart to predict everything again into it"
    for offset, number, raw, complete in _records(out):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            if not complete:
                torn = True  # the interrupted write
                break
            raise DataFormatError(f"not a JSON record; {hint}", path=str(out), line=number) from None
        if not complete:
            torn = True  # a whole record but no line end: it may have been cut after a value
            break
        sid = record.get("id") if isinstance(record, dict) else None
        sid = str(sid) if isinstance(sid, int) and not isinstance(sid, bool) else sid
        meta = record.get("meta") if isinstance(record, dict) else None
        if not isinstance(sid, str) or not isinstance(meta, dict) or "outcome" not in meta:
            raise DataFormatError(f"a record without the sentence id and its outcome; {hint}", path=str(out),
                                  line=number)
        if sid not in data_ids:
            raise DataFormatError(f"sentence {sid!r} is not in --data; was the interrupted run made with other data? "
                                  "pass --restart to start over", path=str(out), line=number)
        if sid in seen:
            raise DataFormatError(f"sentence {sid!r} has two records; {hint}", path=str(out), line=number)
        seen.add(sid)
        if meta["outcome"] == "ok":
            kept[sid] = offset
        else:
            dropped += 1
    return Previous(kept, dropped, torn)


def _rewrite(out: Path, ids_in_order) -> dict[str, int]:
    """Rewrite ``out`` atomically with the records of ``ids_in_order`` in
    that order (each id's record must be in it); returns their new offsets."""
    where = {}
    for offset, _number, raw, complete in _records(out):
        if complete and raw.strip():
            record = json.loads(raw)
            where[str(record["id"])] = (offset, len(raw))
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    offsets: dict[str, int] = {}
    try:
        with open(out, "rb") as src, open(tmp, "wb") as dst:
            for sid in ids_in_order:
                offset, size = where[sid]
                src.seek(offset)
                offsets[sid] = dst.tell()
                dst.write(src.read(size))
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(tmp, out.stat().st_mode & 0o7777)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return offsets


def keep_answered(out: Path, previous: Previous) -> Previous:
    """Drop from ``out`` the records to predict again and a cut last one,
    keeping the answered ones in their order (nothing is rewritten when
    there is nothing to drop)."""
    if not previous.dropped and not previous.torn:
        return previous
    order = sorted(previous.kept, key=previous.kept.get)
    return Previous(_rewrite(out, order), previous.dropped, previous.torn)


def put_in_order(out: Path, ids_in_order) -> None:
    """Rewrite ``out`` with its records in the data's order (after a resume
    appended sentences that come before kept ones)."""
    _rewrite(out, ids_in_order)


def read_back_tags(out: Path, fmt: str, offset: int, sentence) -> list[str] | None:
    """The predicted IOB2 tags of ``sentence`` from its record in ``out``
    (what was written for it), over the sentence's own tokens; None when
    the record's text and tokens both differ from the sentence's."""
    from ..formats import FORMATS
    from ..formats._io import Source

    with open(out, "rb") as f:
        f.seek(offset)
        line = f.readline().decode("utf-8")
    [(_, read)] = FORMATS[fmt].reader(line, Source(str(out)), status="suggested")
    spans = [replace(sp, status="suggested") for sp in read.spans]
    if read.text == sentence.text:
        return sentence.with_spans(spans).tags(("suggested",))
    if read.words == sentence.words:
        return read.with_spans(spans).tags(("suggested",))
    return None
