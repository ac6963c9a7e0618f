"""The budget curve on MatScholar, BC5CDR and WNUT-17 with the offline kNN predictor.

    python benchmarks/bench_curve.py                       # test splits, main strategies
    python benchmarks/bench_curve.py --ablations           # plus the ablations
    python benchmarks/bench_curve.py --split dev           # the DEV splits (for choosing variants)
    python benchmarks/bench_curve.py --datasets wnut17 --seeds 1 --budgets 0.05
    python benchmarks/bench_curve.py --retriever dense     # every retrieval dense, as before retrievers

Pool = the train split (gold revealed only for selected sentences); target =
the test split (or dev), subsampled to ``--target-max`` sentences at random
(seed 0) when larger, so each point costs seconds; every strategy is scored on
the same sentences. Stage 2 covers the target's sentences (never their
labels). Prints, per strategy and budget, strict-IOB2 F1 and demonstration
entity coverage@5 (the share of a target sentence's gold entities among its 5
retrieved demonstrations' entities), mean ± std over seeds, each F1 mean as a
share of the full-pool ceiling, and which retriever did what. Results and
manifests go to ``--out-dir`` (default ``.allabel_cache/bench_curve/``,
git-ignored). Embeddings (sentence and word vectors) and BM25 indexes are
cached in ``$ALLABEL_CACHE_DIR`` (default ``~/.cache/allabel``, shared with
the CLI and the dashboard), so only the first run embeds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from allabel_core.cli.curve_cmd import format_table  # noqa: E402
from allabel_core.vectors.embed import Embedder  # noqa: E402
from allabel_core.experiment.curve import run_curve, strategy_runs  # noqa: E402
from allabel_core.predictors.registry import DEFAULT_PREDICTOR, build_predictor  # noqa: E402
from allabel_core.formats import read_corpus  # noqa: E402

DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets"))
DATASETS = ("matscholar", "bc5cdr", "wnut17")
MAIN = ["random", "coreset", "similarity", "uncertainty", "allabel", "full"]
# allabel[split=0:1:0] is similarity only: with the same seed it makes exactly
# the picks of `similarity`, so that row stands for it.
ABLATIONS = [
    "allabel[split=1:4:0]",
    "allabel[seed=highest-mean]",
    "allabel[seed=random]",
    "allabel[candidates=inliers]",
    "coreset[candidates=inliers]",
    "coreset[seed=highest-mean]",
]


def share_table(summary) -> str:
    full = summary.loc[summary.strategy == "full", "f1_mean"]
    if full.empty:
        return ""
    s = summary[summary.strategy != "full"].copy()
    s["f1_std"] = 0.0
    s["f1_mean"] = s["f1_mean"] / float(full.iloc[0])
    s["runs"] = 2  # suppress the "(1 run)" mark: these are ratios
    return format_table(s).replace(" ± 0.000", "")


def retrieval_line(manifest) -> str:
    r = manifest["retrieval"]
    lists = sorted({v["retriever"] for v in r["coverage_lists"].values()})
    return (f"retrievers: demonstrations {r['demonstrations']['retriever']}"
            f"{' (rrf_k ' + format(r['demonstrations']['rrf_k'], 'g') + ')' if 'rrf_k' in r['demonstrations'] else ''}; "
            f"stage-2 coverage lists {', '.join(lists) or '-'}; core-set {r['core_set']}; "
            f"coverage@{r['coverage']['k']} with {r['coverage']['retriever']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--split", default="test", choices=("test", "dev"))
    ap.add_argument("--strategies", help="comma-separated specs (default: the main strategies; --ablations adds variants)")
    ap.add_argument("--ablations", action="store_true", help="also run the ablations (variants of ALLabel and the core-set)")
    ap.add_argument("--retriever", choices=("dense", "bm25", "hybrid"),
                    help="one retriever for demonstrations and stage 2 (default: the library's defaults)")
    ap.add_argument("--budgets", default="0.01,0.02,0.05,0.1,0.2")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--target-max", type=int, default=1000)
    ap.add_argument("--out-dir", default=str(ROOT / ".allabel_cache" / "bench_curve"))
    args = ap.parse_args()
    from allabel_core.selection.registry import split_strategy_list

    strategies = split_strategy_list(args.strategies) if args.strategies else MAIN + (ABLATIONS if args.ablations else [])
    runs = strategy_runs(strategies, args.retriever)
    budgets = [float(b) for b in args.budgets.split(",")]
    embedder = Embedder()
    predictor = build_predictor(DEFAULT_PREDICTOR, embedder, **({"retriever": args.retriever} if args.retriever else {}))
    print(f"predictor: {predictor.name} {predictor.params()}")
    for name in args.datasets.split(","):
        pool = read_corpus(DATA / name / "train.jsonl")
        target = read_corpus(DATA / name / f"{args.split}.jsonl")
        extra = {}
        if len(target) > args.target_max:
            keep = np.sort(np.random.default_rng(0).choice(len(target), args.target_max, replace=False))
            extra["target_sample"] = {"of": len(target), "kept": args.target_max, "rng_seed": 0}
            target = target.subset(int(i) for i in keep)
        started = time.perf_counter()
        last = [started]

        def progress(done, total, what, _last=last):
            now = time.perf_counter()
            if now - _last[0] > 30 or done == total:
                print(f"  [{done}/{total}] {what} ({now - started:.0f} s)", file=sys.stderr, flush=True)
                _last[0] = now

        out = Path(args.out_dir) / f"{name}-{args.split}.json"
        res = run_curve(pool, target, runs, budgets, predictor, args.seeds, embedder=embedder,
                        progress=progress, manifest_extra=extra, out=out)
        secs = time.perf_counter() - started
        summary = res.summary()
        df = res.frame
        print(f"\n== {name}: pool {len(pool)} train, target {len(target)} {args.split}"
              f"{' (sampled from ' + str(extra['target_sample']['of']) + ')' if extra else ''}; "
              f"{len(df)} points in {secs:.0f} s; results {out}")
        print(retrieval_line(res.manifest))
        print("F1, strict IOB2, mean ± std over seeds:")
        print(format_table(summary))
        print("demonstration entity coverage@5, mean ± std over seeds:")
        print(format_table(summary, "cov"))
        print("as a share of the full-pool F1:")
        print(share_table(summary))
        timing = df.groupby("strategy", sort=False)[["select_seconds", "select_predictor_seconds", "predict_seconds"]].median()
        print("median seconds per point (selection, of which predictor, target prediction):")
        print(timing.round(2).to_string())
        sys.stdout.flush()


if __name__ == "__main__":
    main()
