"""``allabel predict``: label sentences from annotated demonstrations.

    allabel predict --labeled labeled.jsonl --data pool.txt --predictor openai \\
        --base-url http://127.0.0.1:8080/v1 --model SmolLM2-135M-Instruct --out predicted.jsonl

The annotated file's gold/confirmed spans are the demonstrations; the data
file's sentences are labelled and written to ``--out`` with the predicted
spans (any format the data layer writes). If the data file has gold labels,
strict IOB2 scores are printed too. Progress, the cost estimate and the LLM
ledger go to stderr. The API key is read from the environment variable
named by ``--api-key-env`` (default ``OPENAI_API_KEY``), never from the
command line, where other users could see it.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ConfigError
from ..predictors.registry import DEFAULT_PREDICTOR, PREDICTORS, build_predictor, get_predictor_spec, predictor_names
from .reading import add_input_options, read_input


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
    p.add_argument("--k", type=int, metavar="N", help="demonstrations per sentence (default: 5 for openai, the kNN default for knn)")
    llm = p.add_argument_group("LLM (--predictor openai)")
    llm.add_argument("--base-url", help="endpoint, e.g. http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL)")
    llm.add_argument("--model", help="model name the endpoint knows (default: $OPENAI_MODEL)")
    llm.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR", help="environment variable holding the key")
    llm.add_argument("--concurrency", type=int, default=4, help="requests in flight at most (default 4)")
    llm.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    llm.add_argument("--max-retries", type=int, default=4, help="retries after 429/5xx/timeouts (default 4)")
    llm.add_argument("--temperature", type=float, default=0.0)
    llm.add_argument(
        "--uncertainty", choices=("auto", "perplexity", "disagreement", "none"), default="none",
        help="score uncertainty too (auto: perplexity if the server gives logprobs, else sampled disagreement); default none",
    )
    llm.add_argument("--n-samples", type=int, default=5, help="samples for disagreement (default 5)")
    llm.add_argument("--prompt-version", default="ner.v1")
    llm.add_argument("--json-mode", choices=("auto", "on", "off"), default="auto", help="ask for JSON mode (default auto)")
    llm.add_argument("--label", action="append", default=[], metavar="NAME=DEFINITION",
                     help="an entity type and its definition for the prompt (repeat; default: the labels in --labeled)")
    llm.add_argument("--prices", metavar="IN,OUT", help="dollars per 1M input,output tokens, for a cost estimate")
    llm.add_argument("--no-cache", action="store_true", help="do not read or write the LLM answer cache")
    p.set_defaults(func=run)
    return p


def _labels(args, labeled) -> dict[str, str]:
    if args.label:
        out = {}
        for item in args.label:
            name, _, definition = item.partition("=")
            out[name.strip()] = definition.strip()
        return out
    names = labeled.labels
    if not names:
        raise ConfigError(f"{args.labeled} has no labelled spans: give entity types with --label NAME=DEFINITION")
    return dict.fromkeys(names, "")


def _progress(label: str):
    tty = sys.stderr.isatty()
    last = [-1]

    def report(done: int, total: int) -> None:
        step = max(1, total // 20)
        if tty:
            print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done // step != last[0]:
            last[0] = done // step
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

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
    predictor.model.check(timeout=min(10.0, args.timeout))  # one clear line if it is not there
    return predictor


def _out_format(out: str, asked: str | None, data_format: str | None) -> str:
    """The format to write, settled before any prediction is paid for.

    A ``.jsonl`` name fits three formats: the data's own if it is one of
    them, else spaCy-style JSONL (character spans, with their status).
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
    return data_format if data_format in found else "spacy"


def run(args) -> int:
    from ..data.corpus import Corpus
    from ..vectors.embed import Embedder
    from ..formats import write_corpus
    from ..predictors.base import DemoStore
    from ..predictors.llm import with_suggestions
    from ..scoring import evaluate
    from ..data.sentence import TRUSTED

    labeled = read_input(args.labeled, args.fmt, args, "predict")
    data = read_input(args.data, args.fmt, args, "predict")
    out_fmt = _out_format(args.out, args.out_format, data.format)
    demos_in = [s for s in labeled if s.spans_with(TRUSTED)] or list(labeled)
    embedder = Embedder()
    if get_predictor_spec(args.predictor).remote:
        predictor = _llm_predictor(args, labeled, embedder)
    else:
        predictor = build_predictor(args.predictor, embedder, **({} if args.k is None else {"k": args.k}))
    print(f"predictor: {predictor.name}; {len(demos_in)} demonstrations, {len(data)} sentences", file=sys.stderr)
    demos = DemoStore.from_sentences(demos_in, embedder)

    ledger = predictor.ledger
    if ledger is not None:
        est = predictor.estimate(predictor.render(demos, list(data)))
        line = f"estimate: {est['requests']} requests, ~{est['prompt_tokens']:,} prompt tokens"
        if "cost_usd" in est:
            line += f", ~${est['cost_usd']:.4f}"
        print(line, file=sys.stderr)

    preds = predictor.predict(demos, list(data), progress=_progress("predicting"))
    labelled = [with_suggestions(s, p) for s, p in zip(data, preds)]
    warnings = write_corpus(Corpus(labelled, [], args.out, data.format), args.out, out_fmt, statuses=("suggested",))
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {len(labelled)} sentences to {args.out}", file=sys.stderr)

    if data.has_gold():
        scores = evaluate([s.tags(TRUSTED) for s in data], [s.tags(("suggested",)) for s in labelled])
        print(
            f"strict IOB2 scores against the gold labels in {args.data}: "
            f"P {scores.precision:.3f} R {scores.recall:.3f} F1 {scores.f1:.3f} ({scores.support} entities)",
            file=sys.stderr,
        )
    if ledger is not None:
        print(ledger.line(), file=sys.stderr)
    failed = [p for p in preds if p.error]
    if failed:
        print(
            f"{len(failed)} of {len(preds)} sentences failed (first: {failed[0].sentence_id}: {failed[0].error}); "
            "run the same command again to retry them: answers already given are cached",
            file=sys.stderr,
        )
        return 1
    return 0
