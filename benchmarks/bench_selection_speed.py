"""Selection speed and memory: core-set and ALLabel on random unit vectors.

    python benchmarks/bench_selection_speed.py            # N = 10,000 and 100,000, d = 384, M = 5 %
    python benchmarks/bench_selection_speed.py --sizes 10000 --repeats 5

For each N: our core-set against (a) the textbook greedy (one float32 GEMV
over the pool per pick with an in-place ``np.maximum``; at N = 10,000 also the
O(N²) similarity-matrix version) and (b) small-text's ``greedy_coreset``
(installed for benchmarks only with ``pip install --no-deps small-text``),
as time ratios, with the peak extra memory each allocates (tracemalloc) and
bytes read ÷ time against the machine's practical read bandwidth (the best of
a few NumPy streaming reads of a 307 MB matrix, far larger than the caches;
a 10,000-row pool, 15 MB, mostly stays in cache, so there the textbook GEMV is
not bandwidth-bound and the blocking gains less). Then ALLabel 1:3:1, its selection
work apart from the predictor (a zero-cost fake stands in for stage 3), and
the offline kNN predictor's stage-3 cost measured separately on MatScholar.
Times are medians of ``--repeats`` runs (one run where a run takes minutes).
small-text at N = 100,000 would take hours: its per-pick cost grows with the
selected count, so its total is extrapolated from timed prefixes and marked.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ALLABEL_CACHE_DIR", str(ROOT / ".allabel_cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from allabel_core.predictors.base import Prediction  # noqa: E402
from allabel_core.selection import (  # noqa: E402
    SelectionContext, coverage_lists, mean_similarity, select_allabel, select_coreset,
)
from allabel_core.data.sentence import Sentence  # noqa: E402

D = 384


def unit_vectors(n: int, d: int = D, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def bandwidth(x: np.ndarray) -> dict[str, float]:
    """Practical read bandwidth (GB/s) of a few streaming reads of ``x``."""
    v = np.ones(x.shape[1], np.float32)
    flat = x.reshape(-1)
    tests = {"sum(axis=0)": lambda: x.sum(axis=0), "GEMV x@v": lambda: x @ v, "flat max": lambda: flat.max()}
    out = {}
    for name, f in tests.items():
        f()
        t, _ = timed(f, 7)
        out[name] = x.nbytes / t / 1e9
    return out


def textbook_gemv(x: np.ndarray, seed: int, n: int) -> list[int]:
    """The textbook O(N·M) greedy: one GEMV over the pool per pick."""
    maxsim = x @ x[seed]
    maxsim[seed] = np.inf
    out = []
    for _ in range(n):
        p = int(np.argmin(maxsim))
        out.append(p)
        np.maximum(maxsim, x @ x[p], out=maxsim)
        maxsim[p] = np.inf
    return out


def textbook_matrix(x: np.ndarray, seed: int, n: int) -> list[int]:
    """The O(N²)-memory greedy: the whole similarity matrix up front."""
    sims = x @ x.T
    maxsim = sims[:, seed].copy()
    maxsim[seed] = np.inf
    out = []
    for _ in range(n):
        p = int(np.argmin(maxsim))
        out.append(p)
        np.maximum(maxsim, sims[:, p], out=maxsim)
        maxsim[p] = np.inf
    return out


def small_text_coreset():
    try:
        from small_text.query_strategies.coresets import greedy_coreset
    except ImportError as exc:
        print(f"  small-text not importable ({exc}); install with: pip install --no-deps small-text")
        return None
    return greedy_coreset


class ZeroCostPredictor:
    """Stands in for stage 3's predictor so its selection work can be timed alone."""

    name = "zero-cost fake"

    def params(self):
        return {}

    def predict(self, demos, sentences, *, progress=None):
        return [Prediction(s.id, (), (hash(s.id) % 1000) / 1000, "fake") for s in sentences]


def bench_coreset(n_pool: int, frac: float, repeats: int, bw: float, peer: bool = True) -> None:
    x = unit_vectors(n_pool)
    m = int(round(frac * n_pool))
    print(f"\n== core-set, N = {n_pool:,}, d = {D}, M = {m:,} ({frac:.0%}) ==")
    seed = int(np.argmin(mean_similarity(x)))
    rng = np.random.default_rng(0)
    many = repeats if n_pool <= 20000 else 1
    t_ours, ours = timed(lambda: select_coreset(x, [], m, rng=rng), many)
    mem_ours = peak_mb(lambda: select_coreset(x, [], m, rng=rng))
    picks = np.asarray(ours).tolist()
    flushes = int(np.ceil((m - 1) / 256))
    bytes_ours = (flushes + 1) * x.nbytes
    print(f"ours (blocked GEMM, block 256, shortlist 1024): {t_ours:8.2f} s   peak extra {mem_ours:7.1f} MB")
    print(f"  compute-bound: {2 * n_pool * D * m / t_ours / 1e9:.0f} GFLOP/s over 2·N·d·M flops; the pool is read "
          f"{flushes + 1} times ({bytes_ours / t_ours / 1e9:.2f} GB/s), where the textbook's {m} reads in this time "
          f"would need {m * x.nbytes / t_ours / 1e9:,.0f} GB/s = {m * x.nbytes / t_ours / 1e9 / bw:.1f}x the practical bandwidth")

    t_gemv, ref = timed(lambda: textbook_gemv(x, seed, m - 1), many if n_pool <= 20000 else 1)
    mem_gemv = peak_mb(lambda: textbook_gemv(x, seed, min(m - 1, 200)))
    same = ref == picks[1:]
    print(f"(a) textbook GEMV per pick:                     {t_gemv:8.2f} s   peak extra {mem_gemv:7.1f} MB   "
          f"ratio {t_gemv / t_ours:5.1f}x   same picks: {same}")
    if not same:
        t = next(i for i, (a, b) in enumerate(zip(ref, picks[1:])) if a != b)
        prefix = np.asarray(picks[: t + 1])
        x64 = lambda i: float((x[prefix].astype(np.float64) @ x[i].astype(np.float64)).max())  # noqa: E731
        print(f"    first difference at pick {t + 1}: rows {picks[t + 1]} vs {ref[t]}, whose float64 objectives "
              f"differ by {abs(x64(picks[t + 1]) - x64(ref[t])):.1e} (a tie within float32 rounding of GEMM vs GEMV)")
    print(f"  {m * x.nbytes / t_gemv / 1e9:5.1f} GB/s read ({m * x.nbytes / t_gemv / 1e9 / bw:.0%} of practical bandwidth)")
    if n_pool <= 20000:
        t_mat, refm = timed(lambda: textbook_matrix(x, seed, m - 1), 1)
        mem_mat = peak_mb(lambda: textbook_matrix(x, seed, 1))
        print(f"(a') O(N²) similarity matrix:                   {t_mat:8.2f} s   peak extra {mem_mat:7.1f} MB   "
              f"ratio {t_mat / t_ours:5.1f}x   same picks: {refm == picks[1:]}")

    greedy_coreset = small_text_coreset() if peer else None
    if greedy_coreset is None:
        return
    unl, lab = np.arange(n_pool), np.array([seed])
    if n_pool <= 20000:
        t_st, st = timed(lambda: greedy_coreset(x, unl, lab, m - 1, normalized=True), 1)
        mem_st = peak_mb(lambda: greedy_coreset(x, unl, lab, min(m - 1, 50), normalized=True))
        print(f"(b) small-text greedy_coreset:                  {t_st:8.2f} s   peak extra {mem_st:7.1f} MB (50 picks)   "
              f"ratio {t_st / t_ours:5.1f}x   same picks: {np.asarray(st).tolist() == picks[1:]}")
    else:
        # Its pick t costs about a + b·t (distances to all t selected rows): fit on two prefixes.
        k1, k2 = 10, 40
        t1, _ = timed(lambda: greedy_coreset(x, unl, lab, k1, normalized=True), 1)
        t2, _ = timed(lambda: greedy_coreset(x, unl, lab, k2, normalized=True), 1)
        # total(k) = a·k + b·k²/2
        b = 2 * ((t2 / k2) - (t1 / k1)) / (k2 - k1)
        a = t1 / k1 - b * k1 / 2
        est = a * (m - 1) + b * (m - 1) ** 2 / 2
        print(f"(b) small-text greedy_coreset: {k1} picks {t1:.1f} s, {k2} picks {t2:.1f} s -> "
              f"{m - 1} picks extrapolated {est / 3600:.1f} h   ratio ~{est / t_ours:,.0f}x (extrapolated)")


def bench_allabel(n_pool: int, frac: float, repeats: int, n_target: int | None, index: str) -> None:
    x = unit_vectors(n_pool)
    m = int(round(frac * n_pool))
    target = None if n_target is None else unit_vectors(n_target, seed=1)
    what = "target = pool (live session)" if target is None else f"target = {n_target:,} other sentences"
    sents = [Sentence(str(i), "x", ()) for i in range(n_pool)]
    ctx = SelectionContext(sents, ZeroCostPredictor(), annotate=lambda idx: [sents[i] for i in idx])
    rng = np.random.default_rng(0)
    run = lambda: select_allabel(x, [], m, rng=rng, target_vectors=target, context=ctx, index=index)  # noqa: E731
    t, sel = timed(run, repeats if n_pool <= 20000 else 1)
    t_lists = timed(lambda: coverage_lists(x, target, 10, index=index, rng=np.random.default_rng(0)), 1)[0]
    mem = peak_mb(run)
    print(f"allabel 1:3:1, N = {n_pool:,}, M = {m:,}, {what}, {index} lists: {t:7.2f} s "
          f"(top-10 lists {t_lists:.2f} s of it, computed once), peak extra {mem:7.1f} MB; stages {sel.by_stage()}")


def bench_knn_stage3() -> None:
    data = Path("/work/shared/datasets/matscholar/train.jsonl")
    try:
        from allabel_core.vectors.embed import Embedder
        from allabel_core.predictors.registry import DEFAULT_PREDICTOR, build_predictor
        from allabel_core.formats import read_corpus
    except ImportError as exc:
        print(f"offline kNN predictor not available ({exc})")
        return
    if not data.is_file():
        print("MatScholar not found: stage-3 predictor cost not measured")
        return
    pool = read_corpus(data)
    emb = Embedder()
    vecs = emb.encode(pool.texts)
    pred = build_predictor(DEFAULT_PREDICTOR, emb)
    ctx = SelectionContext([s.with_spans([]) for s in pool], pred, annotate=lambda idx: [pool[i] for i in idx])
    n = int(round(0.05 * len(pool)))
    rng = np.random.default_rng(0)
    t, sel = timed(lambda: select_allabel(vecs, [], n, rng=rng, context=ctx), 1)
    shortlist = 5 * sel.params["quotas"]["U"]
    print(f"\n== stage 3 with the offline kNN predictor: MatScholar N = {len(pool):,}, M = {n} (5 %) ==")
    print(f"allabel total {t:.2f} s, of which the predictor {ctx.predictor_seconds:.2f} s for a shortlist of {shortlist} "
          f"({ctx.predictor_seconds / shortlist * 1000:.1f} ms per sentence; word vectors cached on disk)")


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # small-text's arccos of 1 + 1e-7
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-knn", action="store_true")
    ap.add_argument("--skip-small-text", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    print(f"load average at start {os.getloadavg()[0]:.1f} (other work on this machine slows every figure)")
    print(f"cpus {os.cpu_count()}, BLAS {[(i['internal_api'], i['num_threads']) for i in info]}")
    bw_all = bandwidth(unit_vectors(200_000))  # 307 MB: far larger than any cache
    bw = max(bw_all.values())
    print("practical read bandwidth: " + ", ".join(f"{k} {v:.1f} GB/s" for k, v in bw_all.items()) + f" -> {bw:.1f} GB/s")
    for n in sizes:
        bench_coreset(n, args.fraction, args.repeats, bw, not args.skip_small_text)
    print("\n== allabel (stages 1-3; stage 3's predictor replaced by a zero-cost fake) ==")
    for n in sizes:
        if n <= 20000:
            bench_allabel(n, args.fraction, args.repeats, None, "flat")
        else:
            bench_allabel(n, args.fraction, args.repeats, n // 10, "flat")
            bench_allabel(n, args.fraction, args.repeats, None, "ivf")
    if not args.skip_knn:
        bench_knn_stage3()
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
