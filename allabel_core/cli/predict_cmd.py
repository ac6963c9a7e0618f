"""``allabel predict``: label sentences from annotated demonstrations.

    allabel predict --labeled labeled.jsonl --data pool.txt --predictor openai \\
        --base-url http://127.0.0.1:8080/v1 --model SmolLM2-135M-Instruct --out predicted.jsonl

The annotated file's gold/confirmed spans are the demonstrations; the data
file's sentences are labelled and written to ``--out`` with the predicted
spans (any format the data layer writes). Every record carries its outcome
in its meta: ``ok``, ``failed`` (with ``error_kind`` and ``error``),
``truncated`` or ``unparseable``, and, when uncertainty is scored, its
``uncertainty`` and ``uncertainty_kind``. The sentences that did not
succeed are listed on stderr and in ``<out>.failed.jsonl``;
``--retry-failed`` asks exactly those again and takes the others from the
answer cache. If the data file has gold labels, strict IOB2 scores over the
sentences that succeeded are printed too. The entity types' definitions
come from ``--schema`` (or a ``schema.json`` beside ``--labeled``) and
``--label``. Progress (done/total, rate and time left), the cost estimate
and the LLM ledger go to stderr.

The data file is read, predicted and written ``--chunk`` sentences at a
time (see :mod:`allabel_core.formats.stream`): memory holds one chunk, not
the file. JSONL outputs get each chunk appended and flushed as it is done;
other formats are written to a temporary file renamed at the end. A run
that is interrupted (Ctrl-C, a killed process, a lost connection) is
resumed by the same command: the sentences already answered in ``--out``
are kept, the rest predicted (see :mod:`.predict_output`); ``--restart``
starts over instead.
The API key is read from the environment variable named by
``--api-key-env`` (default ``OPENAI_API_KEY``), never from the command
line, where other users could see it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError, DataFormatError
from ..predictors.registry import DEFAULT_PREDICTOR, PREDICTORS, build_predictor, get_predictor_spec, predictor_names
from .reading import add_embedder_options, add_input_options, embedder_from_args, read_input

SCHEMA_FILE = "schema.json"
NO_META_FORMATS = ("conll", "text")  # formats whose records have no place for an outcome
LISTED_ON_STDERR = 20  # failed ids printed; more are counted, the file lists all


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="predict entities for sentences from annotated demonstrations",
        description="Label sentences from annotated demonstrations, with the offline kNN predictor or an OpenAI-compatible LLM.",
    )
    p.add_argument("--labeled", required=True, metavar="FILE", help="annotated sentences: the demonstrations")
    p.add_argument("--data", required=True, metavar="FILE", help="sentences to label")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the predictions")
    p.add_argument("--predictor", choices=predictor_names(), default=DEFAULT_PREDICTOR,
                   help="; ".join(f"{s.name}: {s.description}" for s in PREDICTORS.values()))
    p.add_argument("--format", dest="fmt", metavar="FMT", help="format of --labeled and --data (default: told from the file)")
    p.add_argument("--out-format", metavar="FMT", help="format of --out (default: from its extension, else the data's)")
    add_input_options(p)
    add_embedder_options(p)
    p.add_argument("--chunk", type=int, default=256, metavar="N",
                   help="sentences read, predicted and written at a time (default 256); memory holds one chunk")
    p.add_argument("--restart", action="store_true",
                   help="predict every sentence again, even when --out holds an interrupted run to resume")
    p.add_argument("--k", type=int, metavar="N", help="demonstrations per sentence (default: 5 for openai, the kNN default for knn)")
    llm = p.add_argument_group("LLM (--predictor openai)")
    llm.add_argument("--base-url", help="endpoint, e.g. http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL)")
    llm.add_argument("--model", help="model name the endpoint knows (default: $OPENAI_MODEL)")
    llm.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR", help="environment variable holding the key")
    llm.add_argument("--concurrency", type=int, default=4, help="requests in flight at most (default 4)")
    llm.add_argument("--timeout", type=float, default=60.0,
                     help="seconds per attempt, in total: connect, headers and the whole answer (default 60)")
    llm.add_argument("--max-retries", type=int, default=4, help="retries after 429/5xx/timeouts (default 4)")
    llm.add_argument("--temperature", type=float, default=0.0)
    llm.add_argument(
        "--uncertainty", choices=("auto", "perplexity", "disagreement", "none"), default="none",
        help="score uncertainty too (auto: perplexity if the server gives logprobs, else sampled disagreement); default none",
    )
    llm.add_argument("--n-samples", type=int, default=5, help="samples for disagreement (default 5)")
    llm.add_argument("--prompt-version", default="ner.v1")
    llm.add_argument("--json-mode", choices=("auto", "on", "off"), default="auto", help="ask for JSON mode (default auto)")
    llm.add_argument("--schema", metavar="FILE",
                     help=f"entity types and definitions for the prompt ({{\"labels\": [{{\"name\", \"description\"}}]}}; "
                          f"default: {SCHEMA_FILE} beside --labeled, if there is one)")
    llm.add_argument("--label", action="append", default=[], metavar="NAME=DEFINITION",
                     help="an entity type and its definition for the prompt (repeat; adds to or overrides --schema; "
                          "default: the labels in --labeled)")
    llm.add_argument("--prices", metavar="IN,OUT", help="dollars per 1M input,output tokens, for a cost estimate")
    llm.add_argument("--no-cache", action="store_true", help="do not read or write the LLM answer cache")
    llm.add_argument("--retry-failed", action="store_true",
                     help="ask again exactly the sentences that did not succeed in the last run with this --out "
                          "(listed in <out>.failed.jsonl); the others come from the answer cache")
    p.set_defaults(func=run)
    return p


def _schema_path(args) -> Path | None:
    """``--schema``, else ``schema.json`` beside ``--labeled`` (with a note), else None."""
    if args.schema:
        path = Path(args.schema)
        if not path.is_file():
            raise ConfigError(f"--schema {args.schema}: no such file")
        return path
    beside = Path(args.labeled).resolve().parent / SCHEMA_FILE
    if beside.is_file():
        print(f"note: entity types and definitions from {beside} (found beside --labeled; --schema chooses another)",
              file=sys.stderr)
        return beside
    return None


def _labels(args, labeled) -> dict[str, str]:
    """Entity type -> definition for the prompt: the schema's, then
    ``--label`` (adds or overrides), else the labels of ``--labeled``."""
    from ..data.schema import load_schema

    out: dict[str, str] = {}
    path = _schema_path(args)
    if path is not None:
        out = {t.name: t.description for t in load_schema(path).types}
        extra = [name for name in labeled.labels if name not in out]
        if extra:
            print(f"warning: {args.labeled} uses labels the schema {path} does not define: {', '.join(extra)}; "
                  "they are shown to the model without a definition", file=sys.stderr)
            out.update(dict.fromkeys(extra, ""))
    for item in args.label:
        name, sep, definition = item.partition("=")
        if not name.strip():
            raise ConfigError(f"--label {item!r}: give NAME=DEFINITION")
        out[name.strip()] = definition.strip() if sep else out.get(name.strip(), "")
    if out:
        return out
    names = labeled.labels
    if not names:
        raise ConfigError(f"{args.labeled} has no labelled spans: give entity types with --schema FILE or --label NAME=DEFINITION")
    return dict.fromkeys(names, "")


def _progress(label: str, total: int, start: int = 0, stream=None):
    """A ``(done, total)`` callback over the whole file (``start`` of it
    done before this run) printing done/total, this run's rate and the time
    left: one line rewritten on a terminal, else a line per ~5 %."""
    import time

    from ..project.rest import describe_rate

    stream = stream or sys.stderr
    tty = stream.isatty()
    t0 = time.perf_counter()
    last, last_done = [-1], [-1]
    step = max(1, total // 20)

    def report(done: int, _total: int = total) -> None:
        if done == last_done[0]:
            return
        last_done[0] = done
        text = f"{label}: {describe_rate(done, total, time.perf_counter() - t0, start=start)}"
        if tty:
            print(f"\r{text}\033[K", end="" if done < total else "\n", file=stream, flush=True)
        elif done == total or done // step != last[0]:
            last[0] = done // step
            print(text, file=stream, flush=True)

    return report


def _llm_predictor(args, labeled, embedder):
    from ..predictors.ledger import Prices

    model_name = args.model or os.environ.get("OPENAI_MODEL")
    if not model_name:
        raise ConfigError(f"--predictor {args.predictor} needs --model NAME (or $OPENAI_MODEL)")
    json_mode = {"auto": "auto", "on": True, "off": False}[args.json_mode]
    predictor = build_predictor(
        args.predictor,
        embedder,
        base_url=args.base_url,
        model=model_name,
        api_key=os.environ.get(args.api_key_env) or None,
        timeout=args.timeout,
        max_retries=args.max_retries,
        json_mode=json_mode,
        key_hint=f"the key is read from ${args.api_key_env}; set it there, or name another variable with --api-key-env",
        labels=_labels(args, labeled),
        k=5 if args.k is None else args.k,
        temperature=args.temperature,
        concurrency=args.concurrency,
        uncertainty=args.uncertainty,
        n_samples=args.n_samples,
        prompt_version=args.prompt_version,
        cache=False if args.no_cache else None,
        prices=Prices.parse(args.prices) if args.prices else None,
    )
    print(f"checking {predictor.model.describe()} ...", file=sys.stderr)
    # One clear line if the server is not there, is a web page, or lacks the model.
    predictor.model.verify_model(timeout=min(10.0, args.timeout))
    return predictor


def _out_format(out: str, asked: str | None, data_format: str | None) -> str:
    """The format to write, settled before any prediction is paid for.

    A ``.jsonl`` name fits several formats: the data's own if it is one
    of them that holds labels, else spaCy-style JSONL (character spans, with
    their status).
    """
    from ..formats import FORMATS, _candidates

    if asked:
        if asked not in FORMATS:
            raise ConfigError(f"unknown output format {asked!r}; choose one of {', '.join(FORMATS)}")
        return asked
    found, _ = _candidates(out)
    if not found:
        raise ConfigError(f"cannot tell the output format from {out!r}; pass --out-format, one of {', '.join(FORMATS)}")
    if len(found) == 1:
        return found[0]
    # Unlabelled JSONL holds no spans: predictions go to span JSONL instead.
    return data_format if data_format in found and FORMATS[data_format].labelled else "spacy"


PREDICTION_META = ("outcome", "error_kind", "error", "uncertainty", "uncertainty_kind")


def failures_path(out: str | Path) -> Path:
    """Where the sentences that did not succeed are listed: ``pred.jsonl`` ->
    ``pred.failed.jsonl``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.failed.jsonl")


def prediction_meta(pred, *, uncertainty: bool) -> dict:
    """What a written record says about its prediction (JSON values only)."""
    meta: dict = {"outcome": pred.outcome}
    if pred.error_kind:
        meta["error_kind"] = pred.error_kind
    if pred.error:
        meta["error"] = pred.error
    if uncertainty:
        value = pred.uncertainty
        meta["uncertainty"] = float(value) if value is not None and math.isfinite(value) else None
        meta["uncertainty_kind"] = pred.uncertainty_kind
    return meta


def _read_failures(path: Path, ids: set[str]) -> set[str] | None:
    """The ids listed in a failures file (None when there is none); every
    line checked, and an id the data does not have is an error."""
    if not path.is_file():
        return None
    out = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DataFormatError(f"not JSON ({exc.msg})", path=path, line=number) from None
        sid = record.get("id") if isinstance(record, dict) else None
        if not isinstance(sid, str):
            raise DataFormatError('each line must be an object with the sentence "id"', path=path, line=number)
        if sid not in ids:
            raise DataFormatError(f"sentence {sid!r} is not in --data; was the last run made with other data?",
                                  path=path, line=number)
        out.add(sid)
    return out


@dataclass(frozen=True)
class _Failure:
    """What is kept of a sentence that did not succeed (not its prediction)."""

    sentence_id: str
    outcome: str
    error_kind: str | None
    error: str | None


def _write_failures(path: Path, preds) -> None:
    from ..io.atomic import atomic_write_bytes

    lines = [
        json.dumps({"id": p.sentence_id, "outcome": p.outcome, "error_kind": p.error_kind, "error": p.error},
                   ensure_ascii=False)
        for p in preds
    ]
    atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode("utf-8"))


def _failure_line(preds, total: int, listed: Path) -> str:
    def why(p):
        return p.error_kind or p.outcome

    shown = ", ".join(f"{p.sentence_id} ({why(p)})" for p in preds[:LISTED_ON_STDERR])
    if len(preds) > LISTED_ON_STDERR:
        shown += f" and {len(preds) - LISTED_ON_STDERR} more"
    errors: dict[str, int] = {}
    for p in preds:
        if p.error:
            errors[p.error] = errors.get(p.error, 0) + 1
    said = "".join(f"\n  {msg}" + (f" (x{n})" if n > 1 else "") for msg, n in list(errors.items())[:3])
    if len(errors) > 3:
        said += f"\n  ... and {len(errors) - 3} other errors"
    return (
        f"{len(preds)} of {total} sentences failed: {shown}; all listed in {listed}. "
        "To ask exactly those again, run the same command again with --retry-failed "
        f"(the answers already given are cached){said}"
    )


def _estimate_line(predictor, demos, first, todo: int, ask) -> str:
    """The cost estimate, from the first chunk of sentences to predict,
    scaled to all ``todo`` of them (exact when the first chunk is all)."""
    plans = predictor.render(demos, first)
    est = predictor.estimate([p for p in plans if ask is None or p.sentence.id in ask])
    scale = todo / len(first) if first else 0.0
    requests, tokens = round(est["requests"] * scale), round(est["prompt_tokens"] * scale)
    line = f"estimate: {requests} requests, ~{tokens:,} prompt tokens"
    if "cost_usd" in est:
        line += f", ~${est['cost_usd'] * scale:.4f}"
    if len(first) < todo:
        line += f" (from the first {len(first)} of the {todo} sentences to predict)"
    predictor.ledger.record_estimate(requests=requests, prompt_tokens=tokens,
                                     completion_tokens=round(est["completion_tokens"] * scale))
    return line


def _print_warnings(warnings: list[str]) -> None:
    """Each warning once; counted ones of every chunk ("12 spans not
    written: ...") as one, with their counts added."""
    import re

    counted: dict[str, int] = {}
    shown = []
    for w in warnings:
        m = re.fullmatch(r"(\d+) (.+)", w, flags=re.S)
        if m:
            if m.group(2) not in counted:
                shown.append(m.group(2))
            counted[m.group(2)] = counted.get(m.group(2), 0) + int(m.group(1))
        else:
            shown.append(w)
    shown = [f"{counted[w]} {w}" if w in counted else w for w in dict.fromkeys(shown)]
    for w in shown[:LISTED_ON_STDERR]:
        print(f"warning: {w}", file=sys.stderr)
    if len(shown) > LISTED_ON_STDERR:
        print(f"warning: ... and {len(shown) - LISTED_ON_STDERR} more warnings", file=sys.stderr)


def _score_chunk(scores, chunk, labelled, preds, kept: dict, out: Path, out_fmt: str) -> int:
    """Add one chunk's succeeded sentences to the running ``scores``: the
    new predictions as made, the kept ones as read back from ``out``.
    Returns how many kept ones could not be matched to their sentence."""
    from ..data.sentence import TRUSTED
    from . import predict_output as po

    made = {s.id: (s, p) for s, p in zip(labelled, preds)}
    gold, pred, unmatched = [], [], 0
    for s in chunk:
        if s.id in made:
            if made[s.id][1].succeeded:
                gold.append(s.tags(TRUSTED))
                pred.append(made[s.id][0].tags(("suggested",)))
            continue
        tags = po.read_back_tags(out, out_fmt, kept[s.id], s)
        if tags is None:
            unmatched += 1
        else:
            gold.append(s.tags(TRUSTED))
            pred.append(tags)
    scores.add(gold, pred)
    return unmatched


def run(args) -> int:
    from ..formats.stream import ChunkWriter, StreamedCorpus
    from ..predictors.llm import with_suggestions
    from ..predictors.base import DemoStore
    from ..data.sentence import TRUSTED
    from .reading import options, print_warnings
    from . import predict_output as po

    if args.chunk < 1:
        raise ConfigError(f"--chunk must be at least 1, got {args.chunk}")
    if args.restart and args.retry_failed:
        raise ConfigError("--restart predicts everything again and --retry-failed only what failed: choose one")
    labeled = read_input(args.labeled, args.fmt, args, "predict")
    data = StreamedCorpus(args.data, args.fmt, **options(args))
    print_warnings(args.data, data.warnings, "predict")
    out = Path(args.out)
    out_fmt = _out_format(args.out, args.out_format, data.format)
    listed = failures_path(args.out)
    record_path = po.run_record_path(out)
    record = po.read_run_record(record_path) if out.exists() and not args.restart else None
    interrupted = record is not None and not record.get("finished") and out_fmt in po.RESUMABLE
    remote = get_predictor_spec(args.predictor).remote
    ask = None
    if args.retry_failed:
        if not remote:
            raise ConfigError(f"--retry-failed is for an LLM predictor: {args.predictor} has no failures to retry")
        if interrupted:
            raise ConfigError(f"the last run into {args.out} was interrupted: run the same command without "
                              "--retry-failed to finish it (it resumes, and asks again what did not succeed)")
        if args.no_cache:
            raise ConfigError("--retry-failed takes the sentences that succeeded from the answer cache; drop --no-cache")
        ask = _read_failures(listed, data.ids)
        if ask is None:
            if out.exists():
                print(f"nothing to retry: there is no {listed}, so every sentence of the last run succeeded", file=sys.stderr)
                return 0
            raise ConfigError(f"--retry-failed: {args.out} does not exist yet; run once without --retry-failed")
        print(f"retrying the {len(ask)} sentences listed in {listed}; the other {len(data) - len(ask)} come from the "
              "answer cache", file=sys.stderr)
    demos_in = [s for s in labeled if s.spans_with(TRUSTED)] or list(labeled)
    embedder = embedder_from_args(args)
    if remote:
        predictor = _llm_predictor(args, labeled, embedder)
    else:
        predictor = build_predictor(args.predictor, embedder, **({} if args.k is None else {"k": args.k}))
    identity = po.run_identity(predictor, demos_in, out_fmt)
    previous = None
    if interrupted:
        differs = po.identity_differences(record.get("identity") or {}, identity)
        if differs:
            raise ConfigError(f"{args.out} holds an interrupted run made with other {' and '.join(differs)}; "
                              "run it with what it was started with to finish it, pass --restart to predict "
                              "everything again into it, or choose another --out")
        previous = po.keep_answered(out, po.scan_output(out, data.ids))
    total = len(data)
    kept = previous.kept if previous else {}
    todo = total - len(kept)
    print(f"predictor: {predictor.name}; {len(demos_in)} demonstrations, {total} sentences", file=sys.stderr)
    if previous is not None:
        again = f" ({previous.dropped} that did not succeed are asked again)" if previous.dropped else ""
        print(f"resuming the interrupted run into {args.out}: {len(kept)} of {total} sentences answered there are kept; "
              f"predicting the other {todo}{again}", file=sys.stderr)
    demos = DemoStore.from_sentences(demos_in, embedder)

    def fresh_of(chunk):
        return [s for s in chunk if s.id not in kept]

    ledger = predictor.ledger
    if ledger is not None and todo:
        chunks = data.chunks(args.chunk)
        first = next((f for f in map(fresh_of, chunks) if f), [])
        chunks.close()
        print(_estimate_line(predictor, demos, first, todo, ask), file=sys.stderr)
        estimate = dict(ledger.estimate)

    resumable = out_fmt in po.RESUMABLE
    if resumable:
        po.write_run_record(record_path, identity, finished=False, data=str(args.data), total=total)
    elif record_path.exists():
        record_path.unlink()
    with_unc = not remote or args.uncertainty != "none"
    scores = None
    if data.has_gold():
        from ..scoring import StrictCounts

        scores = StrictCounts()
    unscored = 0
    bad: list = []
    order: list[str] = []
    out_of_order = False
    started = False
    done = len(kept)
    progress = _progress("predicting", total, start=len(kept))
    writer = ChunkWriter(out, out_fmt, statuses=("suggested",), append=previous is not None)
    try:
        for chunk in data.chunks(args.chunk):
            fresh = fresh_of(chunk)
            for s in chunk:
                order.append(s.id)
                if s.id in kept:
                    out_of_order = out_of_order or started
                else:
                    started = True

            def inner(d: int, _t: int, base=done) -> None:
                progress(base + d)

            if not fresh:
                preds = []
            elif ledger is not None:
                preds = predictor.predict(demos, fresh, progress=inner, ask=ask)
            else:
                preds = predictor.predict(demos, fresh, progress=inner)
            labelled = []
            for s, p in zip(fresh, preds):
                kept_meta = {k: v for k, v in s.meta.items() if k not in PREDICTION_META}
                labelled.append(replace(with_suggestions(s, p), meta={**kept_meta, **prediction_meta(p, uncertainty=with_unc)}))
            writer.write(labelled)
            bad.extend(_Failure(p.sentence_id, p.outcome, p.error_kind, p.error) for p in preds if not p.succeeded)
            if scores is not None:
                unscored += _score_chunk(scores, chunk, labelled, preds, kept, out, out_fmt)
            done += len(fresh)
            progress(done)
    except KeyboardInterrupt:
        writer.abort()
        if resumable:
            print(f"\ninterrupted after {done} of {total} sentences: {args.out} holds the {writer.written + len(kept)} "
                  "records written so far; run the same command again to predict the rest", file=sys.stderr)
        else:
            print(f"\ninterrupted after {done} of {total} sentences: {args.out} was not written ({out_fmt} is written "
                  "whole at the end); run the same command again to start over", file=sys.stderr)
        return 130
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    _print_warnings(writer.warnings)
    if out_of_order:
        po.put_in_order(out, order)
    if resumable:
        po.write_run_record(record_path, identity, finished=True, data=str(args.data), total=total)
    if ledger is not None and todo:
        ledger.estimate = estimate  # the whole run's, not the last chunk's
    print(f"wrote {total} sentences to {args.out}" + (f" ({len(kept)} kept from the interrupted run)" if kept else ""),
          file=sys.stderr)
    if out_fmt in NO_META_FORMATS:
        print(f"note: {out_fmt} records cannot hold a prediction's outcome; the sentences that did not succeed "
              f"are listed in {listed}", file=sys.stderr)
    if bad:
        _write_failures(listed, bad)
    elif listed.exists():
        listed.unlink()  # from an earlier run: nothing failed this time

    if scores is not None:
        where = f"the gold labels in {args.data}"
        n_scored = total - len(bad) - unscored
        if not n_scored:
            print(f"no sentence succeeded, so nothing is scored against {where} ({len(bad)} failed, listed in {listed})",
                  file=sys.stderr)
        else:
            result = scores.scores()
            counted = f"scored {n_scored} of {total}"
            if bad:
                counted += f"; {len(bad)} failed, listed in {listed}"
            if unscored:
                counted += f"; {unscored} kept records could not be matched to their sentence"
            print(
                f"strict IOB2 scores against {where} ({counted}): "
                f"P {result.precision:.3f} R {result.recall:.3f} F1 {result.f1:.3f} ({result.support} entities)",
                file=sys.stderr,
            )
    if ledger is not None:
        print(ledger.line(), file=sys.stderr)
    if bad:
        print(_failure_line(bad, total, listed), file=sys.stderr)
        return 1
    return 0
