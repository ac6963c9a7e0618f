"""Benchmark the offline kNN predictor on the TEST splits.

    python benchmarks/bench_knn.py [--datasets matscholar ...] [--seeds 3]

Per dataset, with the full training split as the demonstration store and the
test split as queries (labels hidden): strict F1 (seqeval IOB2), precision,
recall, overlap F1 (same type, any overlap: how much is boundaries), and the
plain gazetteer baseline (every training entity string, longest match).
Then the same with a random 10 % of train as the store (mean and spread over
seeds), the regime active learning lives in. Last, sentences/s once embeddings
are cached (median of 3 runs, a new predictor each run so the per-store work
is counted), on MatScholar test against its 4,402-sentence store.
Parameters are the predictor's defaults, tuned on dev by tune_knn.py.
Embeddings are cached in ``$ALLABEL_CACHE_DIR`` (default ``.allabel_cache/``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_knn import DATASETS, gazetteer_baseline, score, setup  # noqa: E402  (sets the cache dir)

from allabel_core.vectors.embed import Embedder  # noqa: E402
from allabel_core.predictors.knn import KnnPredictor  # noqa: E402


def run(dataset: str, embedder: Embedder, fraction: float, seed: int) -> tuple[dict, dict]:
    train, store, test = setup(dataset, "test", embedder, fraction=fraction, seed=seed)
    preds = KnnPredictor(embedder).predict(store, [s.with_spans([]) for s in test])
    return score(test, preds), gazetteer_baseline(train, test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", type=int, default=3, help="random 10 %% stores to average over")
    args = ap.parse_args()
    embedder = Embedder()
    print("offline kNN predictor, defaults:", KnnPredictor(embedder).params())
    print(f"{'dataset':<11} {'store':<9} {'F1':>6} {'P':>6} {'R':>6} {'overlap':>8} {'AUROC':>6} | {'gazetteer F1':>12} {'overlap':>8}")
    for dataset in args.datasets:
        s, g = run(dataset, embedder, 1.0, 0)
        print(f"{dataset:<11} {'full':<9} {s['f1']:6.3f} {s['p']:6.3f} {s['r']:6.3f} {s['lenient']:8.3f} "
              f"{s['auroc']:6.3f} | {g['f1']:12.3f} {g['lenient']:8.3f}", flush=True)
        runs = [run(dataset, embedder, 0.1, seed) for seed in range(args.seeds)]
        f1s, gaz = [r[0]["f1"] for r in runs], [r[1]["f1"] for r in runs]
        spread = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0  # noqa: E731
        print(f"{dataset:<11} {'10% x' + str(args.seeds):<9} {statistics.mean(f1s):6.3f} ±{spread(f1s):.3f} "
              f"(seeds {', '.join(f'{x:.3f}' for x in f1s)}) | gazetteer {statistics.mean(gaz):.3f} ±{spread(gaz):.3f}",
              flush=True)
    throughput(embedder)


def throughput(embedder: Embedder) -> None:
    _, store, test = setup("matscholar", "test", embedder)
    queries = [s.with_spans([]) for s in test]
    KnnPredictor(embedder).predict(store, queries)  # make sure every vector is cached
    cold, warm = [], []
    for _ in range(3):
        pred = KnnPredictor(embedder)
        t = time.perf_counter()
        pred.predict(store, queries)
        cold.append(len(queries) / (time.perf_counter() - t))
        t = time.perf_counter()
        pred.predict(store, queries)
        warm.append(len(queries) / (time.perf_counter() - t))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"throughput (matscholar test, {len(queries)} sentences, store {len(store)}, embeddings cached, "
          f"{os.cpu_count()} cores, load average {load:.1f}): "
          f"{statistics.median(cold):.0f} sentences/s with a new predictor (store work included), "
          f"{statistics.median(warm):.0f} sentences/s on a second call; median of 3")


if __name__ == "__main__":
    main()
