"""Choose the retrievers and stage-2 constants on the DEV splits (train = the
pool, dev = the target); the test splits are never read here.

    python benchmarks/tune_retrieval.py demos                # demonstration retriever: kNN F1 and coverage@5
    python benchmarks/tune_retrieval.py knn --retriever hybrid   # the kNN predictor's k and gazetteer scope
    python benchmarks/tune_retrieval.py stage2               # stage 2's retriever, k_cov and discount (coverage@5)

``demos``: for stores of a random 10 % of train (3 seeds) and of all of
train, strict F1 of the offline kNN predictor and demonstration entity
coverage@5 on dev, per retriever. ``knn``: F1 for the kNN predictor's ``k``
and gazetteer scope (store-wide or retrieved entity strings) under one
retriever. ``stage2``: coverage@5 (demonstrations retrieved with
``--demo-retriever``) of similarity-only selections at 2 % and 10 % for each
stage-2 retriever, ``k_cov`` and ``discount``, against random selection.
Dev sets larger than ``--target-max`` are sampled (seed 0). Embeddings are
cached in ``$ALLABEL_CACHE_DIR`` (default ``~/.cache/allabel``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from allabel_core.vectors.embed import Embedder  # noqa: E402
from allabel_core.experiment.curve import predict_and_score, selection_coverage  # noqa: E402
from allabel_core.formats import read_corpus  # noqa: E402
from allabel_core.predictors.knn import KnnPredictor  # noqa: E402
from allabel_core.retrieval import RETRIEVERS  # noqa: E402
from allabel_core.selection import coverage_lists, select_random, select_similarity  # noqa: E402

DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets"))
DATASETS = ("matscholar", "bc5cdr", "wnut17")


def load(name: str, target_max: int, embedder: Embedder):
    pool = read_corpus(DATA / name / "train.jsonl")
    dev = read_corpus(DATA / name / "dev.jsonl")
    if len(dev) > target_max:
        keep = np.sort(np.random.default_rng(0).choice(len(dev), target_max, replace=False))
        dev = dev.subset(int(i) for i in keep)
    return pool, dev, embedder.encode(pool.texts), embedder.encode(dev.texts)


def stores(n: int, seeds: int = 3):
    out = [(f"random 10% seed {s}", np.sort(np.random.default_rng(s).choice(n, int(round(0.1 * n)), replace=False)))
           for s in range(seeds)]
    return out + [("full", np.arange(n))]


def demos(args, embedder) -> None:
    for name in args.datasets:
        pool, dev, pv, dv = load(name, args.target_max, embedder)
        print(f"== {name}: pool {len(pool)}, dev {len(dev)}", flush=True)
        for r in RETRIEVERS:
            pred = KnnPredictor(embedder, retriever=r)
            res: dict[str, list] = {"10%": [], "full": []}
            t = time.perf_counter()
            for label, idx in stores(len(pool)):
                scores, _ = predict_and_score(idx, pool, pv, dev, pred)
                cov = selection_coverage(idx, pool, pv, dev, dv, k=5, retriever=r)
                res["full" if label == "full" else "10%"].append((scores.f1, cov.macro))
            cells = []
            for key, vals in res.items():
                f1 = np.array([v[0] for v in vals])
                cv = np.array([v[1] for v in vals])
                cells.append(f"{key}: F1 {f1.mean():.3f} ± {f1.std(ddof=1) if len(f1) > 1 else 0:.3f}  cov@5 {cv.mean():.3f}")
            print(f"  {r:7s} " + "   ".join(cells) + f"   ({time.perf_counter() - t:.0f} s)", flush=True)


def knn(args, embedder) -> None:
    grid = [dict(k=k, gazetteer=g) for k, g in itertools.product(args.ks, ("store", "retrieved"))]
    for name in args.datasets:
        pool, dev, pv, dv = load(name, args.target_max, embedder)
        print(f"== {name}: pool {len(pool)}, dev {len(dev)}; retriever {args.retriever}", flush=True)
        chosen = stores(len(pool), args.seeds)
        for g in grid:
            pred = KnnPredictor(embedder, retriever=args.retriever, **g)
            f1 = {"10%": [], "full": []}
            for label, idx in chosen:
                scores, _ = predict_and_score(idx, pool, pv, dev, pred)
                f1["full" if label == "full" else "10%"].append(scores.f1)
            print(f"  k={g['k']:<4d} gazetteer={g['gazetteer']:9s} 10%: F1 {np.mean(f1['10%']):.3f}   "
                  f"full: F1 {np.mean(f1['full']):.3f}", flush=True)


def stage2(args, embedder) -> None:
    for name in args.datasets:
        pool, dev, pv, dv = load(name, args.target_max, embedder)
        print(f"== {name}: pool {len(pool)}, dev {len(dev)}; coverage@5 with {args.demo_retriever} demonstrations",
              flush=True)
        budgets = [int(round(b * len(pool))) for b in args.budgets]
        base = []
        for n in budgets:
            vals = [selection_coverage(select_random(pv, [], n, rng=np.random.default_rng(s)).indices, pool, pv, dev, dv,
                                       k=5, retriever=args.demo_retriever).macro for s in range(3)]
            base.append(np.mean(vals))
        print("  random (3 seeds)                      " + "  ".join(f"{b:.0%}: {v:.3f}" for b, v in zip(args.budgets, base)),
              flush=True)
        for r, k_cov in itertools.product(RETRIEVERS, args.k_covs):
            lists = coverage_lists(pv, dv, k_cov, retriever=r, pool_texts=pool.texts, target_texts=dev.texts)
            for discount in args.discounts:
                cells = []
                for b, n in zip(args.budgets, budgets):
                    sel = select_similarity(pv, [], n, rng=np.random.default_rng(0), target_vectors=dv, k_cov=k_cov,
                                            discount=discount, retriever=r, lists=lists)
                    cov = selection_coverage(sel.indices, pool, pv, dev, dv, k=5, retriever=args.demo_retriever)
                    cells.append(f"{b:.0%}: {cov.macro:.3f}")
                print(f"  {r:7s} k_cov={k_cov:<3d} discount={discount:<6g}      " + "  ".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=("demos", "knn", "stage2"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--target-max", type=int, default=500)
    ap.add_argument("--retriever", default="hybrid", help="knn: the retriever to tune under")
    ap.add_argument("--seeds", type=int, default=1, help="knn: random 10%% stores (plus the full one)")
    ap.add_argument("--ks", nargs="+", type=int, default=[16, 32, 64, 128])
    ap.add_argument("--demo-retriever", default="hybrid", help="stage2: how coverage@5 retrieves demonstrations")
    ap.add_argument("--budgets", nargs="+", type=float, default=[0.02, 0.1])
    ap.add_argument("--k-covs", nargs="+", type=int, default=[5, 10, 20])
    ap.add_argument("--discounts", nargs="+", type=float, default=[2, 10, 1000])
    args = ap.parse_args()
    embedder = Embedder()
    started = time.perf_counter()
    {"demos": demos, "knn": knn, "stage2": stage2}[args.part](args, embedder)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
