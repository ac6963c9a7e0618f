"""``allabel coverage``: demonstration entity coverage@k of one selection.

    allabel coverage --pool train.jsonl --target test.jsonl --selected picks.csv --k 5 --retriever hybrid

For each target sentence, the share of its gold entities (text, type) found
among the gold entities of its ``k`` demonstrations retrieved from the
selected pool sentences: what an LLM could copy from its prompt. Needs no
predictor. ``--selected`` is a list of pool ids (one per line) or the output
of ``allabel select`` (.csv / .jsonl). Prints the mean over target sentences
with entities (and the pooled share); ``--out`` also writes it as JSON.
"""

from __future__ import annotations

import json

from ..errors import ConfigError
from ..retrieval.retrievers import DEFAULT_RETRIEVER, RETRIEVERS
from .select_cmd import err, load_pool, read_selected_ids


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "coverage",
        help="demonstration entity coverage@k of one selection (no predictor needed)",
        description="How many of each target sentence's gold entities appear among the entities of its k "
                    "demonstrations retrieved from the selected pool sentences.",
    )
    p.add_argument("--pool", required=True, help="annotated corpus the selection was made from")
    p.add_argument("--target", required=True, help="annotated corpus whose entities should be covered")
    p.add_argument("--selected", required=True, help="selected pool ids: one per line, or an `allabel select` .csv/.jsonl")
    p.add_argument("--k", type=int, default=5, help="demonstrations retrieved per target sentence (default 5)")
    p.add_argument("--retriever", choices=RETRIEVERS, default=DEFAULT_RETRIEVER,
                   help=f"dense, bm25 or hybrid (default {DEFAULT_RETRIEVER}, as the predictors retrieve)")
    p.add_argument("--rrf-k", dest="rrf_k", type=float, help="hybrid's fusion constant (default 60)")
    p.add_argument("--format", help="input format when the extension does not tell")
    p.add_argument("--out", help="also write the result as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..retrieval import as_config
    from ..retrieval.coverage import demonstration_coverage

    if args.k < 1:
        raise ConfigError("--k must be at least 1")
    config = as_config(args.retriever, args.rrf_k)
    pool, _ = load_pool(args.pool, args.format)
    target, _ = load_pool(args.target, args.format)
    if pool is None or target is None:
        raise ConfigError("coverage needs annotated corpora for --pool and --target, not embedding matrices")
    if not target.has_gold():
        raise ConfigError(f"--target {args.target} carries no gold labels: there is nothing to cover")
    position = {sid: i for i, sid in enumerate(pool.ids)}
    given = list(dict.fromkeys(read_selected_ids(args.selected)))
    if not given:
        raise ConfigError(f"--selected {args.selected} names no sentences")
    unknown = [s for s in given if s not in position]
    if unknown:
        raise ConfigError(f"--selected {args.selected} names {len(unknown)} ids not in the pool, e.g. {unknown[0]!r}")
    demos = [pool[position[s]] for s in given]
    if not any(sp.status in ("gold", "confirmed") for s in demos for sp in s.spans):
        err("allabel coverage: warning: the selected sentences carry no labels, so coverage is 0")
    embedder = None
    if config.name != "bm25":
        from ..vectors.embed import Embedder

        embedder = Embedder()
    result = demonstration_coverage(demos, list(target), k=args.k, retriever=config, embedder=embedder)
    print(f"demonstration entity coverage@{args.k} ({config.name}): {result.macro:.4f} "
          f"(mean over {result.sentences} target sentences with entities); "
          f"pooled {result.micro:.4f} of {result.entities} entities; {len(demos)} selected of {len(pool)}")
    if args.out:
        from ..io.atomic import atomic_write_text

        payload = {**result.as_dict(), "selected": len(demos), "pool": args.pool, "target": args.target,
                   "selected_file": args.selected}
        atomic_write_text(args.out, json.dumps(payload, indent=1))
        err(f"wrote {args.out}")
    return 0
