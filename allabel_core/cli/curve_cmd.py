"""``allabel curve``: F1 on a target set against the annotation budget.

    allabel curve --pool train.jsonl --target test.jsonl \\
        --strategies random,coreset,similarity,uncertainty,allabel,full \\
        --budgets 0.01,0.02,0.05,0.1,0.2 --seeds 3 --predictor knn --out curve.json

Writes ``{"manifest": {...}, "results": [...]}`` (kept up to date after every
point, so a long run can be watched) and prints F1 and demonstration entity
coverage@k (``--coverage-k``, default 5) mean ± std per strategy and budget.
``--retriever`` (dense, bm25 or hybrid) sets how demonstrations are retrieved
and how the similarity stage ranks its coverage lists. Progress goes to stderr. Both files need gold labels: the pool's
are revealed only for selected sentences, the target's are used only to score.
"""

from __future__ import annotations

import sys
import time

from ..errors import ConfigError
from ..retrieval.retrievers import RETRIEVERS
from ..selection.budget import parse_budgets
from .reading import add_embedder_options, add_input_options, embedder_from_args
from .select_cmd import err, load_pool

from ..predictors.registry import DEFAULT_PREDICTOR, PREDICTORS


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "curve",
        help="F1 against annotation budget for several strategies",
        description="Select from the pool with each strategy and budget, predict the target from the selected sentences, and score.",
    )
    p.add_argument("--pool", required=True, help="annotated corpus to select from (gold revealed only for selected sentences)")
    p.add_argument("--target", required=True, help="annotated corpus to predict and score")
    p.add_argument("--strategies", default="random,coreset,similarity,uncertainty,allabel,full",
                   help="comma-separated; variants as allabel[split=1:4:0] (default: all six)")
    p.add_argument("--budgets", default="0.01,0.02,0.05,0.1,0.2", help="comma-separated counts or pool fractions")
    p.add_argument("--seeds", default="3", help="a count (3 = seeds 0,1,2) or a comma-separated list")
    p.add_argument("--predictor", default=DEFAULT_PREDICTOR,
                   help=f"a predictor name (default {DEFAULT_PREDICTOR}, the {PREDICTORS[DEFAULT_PREDICTOR].description})")
    p.add_argument("--retriever", choices=RETRIEVERS,
                   help="demonstration retrieval and the similarity stage's lists: "
                        "dense (MiniLM cosine), bm25 or hybrid (their reciprocal-rank fusion); default: the library's defaults")
    p.add_argument("--rrf-k", dest="rrf_k", type=float, help="hybrid's fusion constant c in 1/(c + rank) (default 60)")
    p.add_argument("--coverage-k", dest="coverage_k", type=int, default=5,
                   help="k of demonstration entity coverage@k (default 5)")
    p.add_argument("--cover", choices=("target", "pool"), default="target", help="what the similarity stage covers (default target)")
    p.add_argument("--target-sample", dest="target_sample", type=int,
                   help="score on this many target sentences drawn at random (seed 0), to save time")
    p.add_argument("--format", help="input format when the extension does not tell")
    add_input_options(p)
    add_embedder_options(p)
    p.add_argument("--out", required=True, help="results file (.json)")
    p.set_defaults(func=run)


def parse_seeds(text: str) -> int | list[int]:
    try:
        if "," in text:
            return [int(x) for x in text.split(",") if x.strip()]
        n = int(text)
    except ValueError:
        raise ConfigError(f"--seeds: {text!r} is neither a count nor a list of integers") from None
    if n < 1:
        raise ConfigError("--seeds: give at least one seed")
    return n


def format_table(summary, value: str = "f1") -> str:
    """``value`` (``"f1"`` or ``"cov"``, coverage@k) mean ± std per strategy
    (rows) and budget (columns)."""
    budgets = sorted(summary["budget"].unique())
    strategies = list(dict.fromkeys(summary["strategy"]))
    cells = {(r.strategy, r.budget): r for r in summary.itertuples()}
    head = ["strategy"] + [f"{b:g}" for b in budgets]
    rows = []
    for s in strategies:
        row = [s]
        for b in budgets:
            r = cells.get((s, b))
            mean, std = (None, None) if r is None else (getattr(r, f"{value}_mean"), getattr(r, f"{value}_std"))
            row.append("" if r is None or mean != mean else f"{mean:.3f} ± {std:.3f}" + (" (1 run)" if r.runs == 1 else ""))
        rows.append(row)
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def run(args) -> int:
    import numpy as np

    from ..experiment.curve import run_curve, strategy_runs
    from ..predictors.registry import build_predictor
    from ..selection.budget import resolve_budget
    from ..selection.registry import split_strategy_list

    if not args.out.lower().endswith(".json"):
        raise ConfigError(f"--out {args.out}: use a .json file name")
    strategies = split_strategy_list(args.strategies)
    try:
        budgets = parse_budgets(args.budgets)
    except ConfigError as exc:
        raise ConfigError(f"--budgets: {exc}") from None
    seeds = parse_seeds(args.seeds)
    pool, _ = load_pool(args.pool, args.format, args, "curve")
    target, _ = load_pool(args.target, args.format, args, "curve")
    if pool is None or target is None:
        raise ConfigError("curve needs annotated corpora for --pool and --target, not embedding matrices")
    if not pool.has_gold():
        raise ConfigError(f"--pool {args.pool} carries no gold labels to reveal for selected sentences")
    if not target.has_gold():
        raise ConfigError(f"--target {args.target} carries no gold labels to score against")
    extra = {}
    if args.target_sample and args.target_sample < len(target):
        keep = np.sort(np.random.default_rng(0).choice(len(target), args.target_sample, replace=False))
        extra["target_sample"] = {"of": len(target), "kept": int(args.target_sample), "rng_seed": 0}
        target = target.subset(int(i) for i in keep)
    # Check everything cheap before the model loads, so a typo fails at once.
    for b in budgets:
        resolve_budget(b, len(pool))
    if args.coverage_k < 1:
        raise ConfigError("--coverage-k must be at least 1")
    runs = strategy_runs(strategies, args.retriever, args.rrf_k)
    embedder = embedder_from_args(args)
    options = {}
    if args.retriever is not None:
        from ..retrieval import as_config

        options["retriever"] = as_config(args.retriever, args.rrf_k)
    predictor = build_predictor(args.predictor, embedder, **options)
    err(f"embedding {len(pool)} pool and {len(target)} target sentences (cached after the first run)")
    started = time.perf_counter()

    def progress(done: int, total: int, what: str) -> None:
        if done < total:
            err(f"[{done + 1}/{total}] {what}  ({time.perf_counter() - started:.0f} s)")

    result = run_curve(pool, target, runs, budgets, predictor, seeds, embedder=embedder, progress=progress,
                       cover=args.cover, manifest_extra=extra, out=args.out, coverage_k=args.coverage_k)
    retrieval = result.manifest["retrieval"]["coverage"]["retriever"]
    print(f"F1 (strict IOB2, mean ± std over seeds) on {len(target)} target sentences, pool {len(pool)}; "
          f"demonstrations retrieved with {retrieval}:")
    print(format_table(result.summary()))
    print(f"Demonstration entity coverage@{args.coverage_k} ({retrieval}), mean ± std over seeds:")
    print(format_table(result.summary(), "cov"))
    err(f"wrote {args.out}")
    sys.stdout.flush()
    return 0
