"""Selection speed and memory: core-set and ALLabel on random unit vectors.

    python benchmarks/bench_selection_speed.py            # N = 10,000 and 100,000, d = 384, M = 5 %
    python benchmarks/bench_selection_speed.py --sizes 10000 --repeats 5
    python benchmarks/bench_selection_speed.py --scale 100000,1000000   # at scale, below

``--scale``: each measurement in its own process (whole-process peak RSS
from getrusage, CPU seconds too): the core-set at M = 5 % (the exact lazy
greedy that stops rows early, against the same without early stops and
against the previous blocked-GEMM one, with picks compared) and stage 2's
coverage lists, exact (faiss flat) against IVF with recall@10 on 1,000
sampled rows, on isotropic and clustered synthetic unit vectors (see
:func:`synthetic`). The 1M runs take minutes on 2 cores: run them once.
``--parts coreset`` (or ``similarity``) runs one part only.

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
    print(f"ours (exact lazy greedy):                       {t_ours:8.2f} s   peak extra {mem_ours:7.1f} MB")

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


# ---------------------------------------------------------------------------
# At scale (N = 100k and 1M): each measurement in its own process, so that
# the whole-process peak RSS (getrusage) belongs to that measurement alone.
# ---------------------------------------------------------------------------

_PREV_ROWS = 4096


def _previous_apply(pool: np.ndarray, picks: np.ndarray, maxsim: np.ndarray, nearest: np.ndarray, block: int) -> None:
    """Raise ``maxsim``/``nearest`` of every row by its similarity to ``picks``,
    one GEMM per ``(_PREV_ROWS, block)`` tile into one reused buffer. Rows at
    ``+inf`` (taken) stay; the argmax is computed only for rows that rise."""
    rows = min(_PREV_ROWS, len(pool))
    buf = np.empty(rows * min(block, len(picks)), dtype=np.float32)
    for c in range(0, len(picks), block):
        cols = np.asarray(picks[c : c + block], dtype=np.int64)
        pt = np.ascontiguousarray(pool[cols].T)
        for r in range(0, len(pool), rows):
            chunk = pool[r : r + rows]
            sims = buf[: len(chunk) * len(cols)].reshape(len(chunk), len(cols))
            np.matmul(chunk, pt, out=sims)
            best = sims.max(axis=1)
            cur = maxsim[r : r + rows]
            upd = np.flatnonzero(best > cur)
            if len(upd):
                cur[upd] = best[upd]
                nearest[r + upd] = cols[sims[upd].argmax(axis=1)]


def previous_kcenter(
    pool: np.ndarray,
    initial: np.ndarray,
    n: int,
    *,
    allowed: np.ndarray | None = None,
    block: int = 256,
    shortlist: int = 1024,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy max–min picks, starting from a non-empty ``initial`` set.

    ``pool``: ``(N, d)`` float32 C-contiguous, unit rows. ``initial``:
    indices already selected (at least one). ``allowed``: optional ``(N,)``
    bool mask of rows that may be picked (all rows still count as covered).
    Returns ``(picks, scores, nearest)``, each ``(n,)``: the picked rows in
    order, the highest similarity each had to the selection when picked, and
    the selected row that similarity was to. ``block`` is how many picks
    share one pool-wide GEMM; ``shortlist`` how many candidate rows are kept
    exact between them. Results do not depend on either.
    """
    N = len(pool)
    initial = np.asarray(initial, dtype=np.int64)
    if len(initial) == 0:
        raise ValueError("greedy_kcenter needs at least one selected row to start from; choose a seed first")
    maxsim = np.full(N, -np.inf, dtype=np.float32)
    nearest = np.full(N, -1, dtype=np.int64)
    maxsim[initial] = np.inf
    if allowed is not None:
        maxsim[~allowed] = np.inf
    _previous_apply(pool, initial, maxsim, nearest, block)
    n_avail = int(np.count_nonzero(maxsim < np.inf))
    if n > n_avail:
        raise ValueError(f"only {n_avail} rows can still be picked, {n} asked")

    out = np.empty(n, dtype=np.int64)
    out_score = np.empty(n, dtype=np.float32)
    out_near = np.empty(n, dtype=np.int64)
    pending: list[int] = []
    dirty = True
    idx = sv = sn = xs = None
    bound = np.inf
    t = 0
    while t < n:
        if dirty:
            if pending:
                _previous_apply(pool, np.asarray(pending), maxsim, nearest, block)
                pending = []
            c = min(shortlist, n_avail - t)
            part = np.argpartition(maxsim, c) if c < N else np.arange(N)
            idx = np.sort(part[:c])  # sorted, so argmin's first hit is the lowest pool index
            bound = float(maxsim[part[c]]) if c < N else np.inf
            sv = maxsim[idx].copy()
            sn = nearest[idx].copy()
            xs = pool[idx]
            dirty = False
        j = int(np.argmin(sv))
        if sv[j] < bound:
            p, score, near = int(idx[j]), float(sv[j]), int(sn[j])
            sv[j] = np.inf
        elif pending:
            dirty = True  # a row outside the shortlist may be lower: update the pool first
            continue
        else:
            # The pool is exact here; the tie with a row outside the shortlist is settled globally.
            p = int(np.argmin(maxsim))
            score, near = float(maxsim[p]), int(nearest[p])
            dirty = True
        out[t], out_score[t], out_near[t] = p, score, near
        t += 1
        maxsim[p] = np.inf
        pending.append(p)
        if not dirty:
            s = xs @ pool[p]
            upd = s > sv
            sv[upd] = s[upd]
            sn[upd] = p
            if len(pending) >= block:
                dirty = True
    return out, out_score, out_near




def synthetic(n: int, kind: str, d: int = D, seed: int = 0) -> np.ndarray:
    """Unit vectors, generated in 64k-row chunks (no full-size temporaries).

    ``isotropic``: standard normal rows, normalised (uniform on the sphere;
    cosine between two rows ~ N(0, 1/d)). ``clustered``: 200 centres drawn
    N(0, I_d), each row = a random centre + 0.8·N(0, I_d), normalised (cosine
    within a cluster ~ 0.6, across ~ 0).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, d), dtype=np.float32) if kind == "clustered" else None
    x = np.empty((n, d), dtype=np.float32)
    for a in range(0, n, 65536):
        b = min(a + 65536, n)
        chunk = rng.standard_normal((b - a, d), dtype=np.float32)
        if centres is not None:
            chunk *= 0.8
            chunk += centres[rng.integers(0, 200, b - a)]
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        x[a:b] = chunk
    return x


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(job: str, out: str) -> None:
    """One measurement: ``coreset:<new|nostop|previous>:<N>:<kind>`` or ``similarity:<flat|ivf>:<N>:<kind>``."""
    import json

    from allabel_core.selection import select_similarity
    from allabel_core.vectors.index import IVF_NPROBE, IVF_TRAIN_PER_LIST, ivf_nlist
    from allabel_core.selection.coreset import greedy_kcenter

    what, impl, n_s, kind = job.split(":")
    n_pool = int(n_s)
    x = synthetic(n_pool, kind)
    res = {"job": job, "rss_after_data_mb": peak_rss_mb()}
    if what == "coreset":
        m = int(round(0.05 * n_pool))
        seed = int(np.argmin(mean_similarity(x)))
        stats = {}
        t = time.perf_counter()
        if impl == "new":
            picks, scores, _ = greedy_kcenter(x, np.array([seed]), m - 1, stats=stats)
        elif impl == "nostop":  # the lazy greedy as it was before stopping early
            picks, scores, _ = greedy_kcenter(x, np.array([seed]), m - 1, block=2048, early_stop=False, stats=stats)
        else:
            picks, scores, _ = previous_kcenter(x, np.array([seed]), m - 1)
        res["seconds"] = time.perf_counter() - t
        res["pairs_share"] = stats.get("pairs", n_pool * m) / (n_pool * m)
        res.update({k: v for k, v in stats.items() if k != "pairs"})
        np.save(out, np.stack([picks.astype(np.float64), scores.astype(np.float64)]))
    else:
        m = int(round(0.03 * n_pool))  # the similarity share of a 5 % budget split 1:3:1
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        lists = coverage_lists(x, None, 10, index=impl, rng=rng)
        res["lists_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        sel = select_similarity(x, [], m, rng=np.random.default_rng(0), lists=lists)
        res["greedy_seconds"] = time.perf_counter() - t
        res["seconds"] = res["lists_seconds"] + res["greedy_seconds"]
        res["index"] = sel.params["index"]
        if impl == "ivf":
            res["nlist"], res["nprobe"] = ivf_nlist(n_pool), IVF_NPROBE
            res["train_rows"] = min(n_pool, res["nlist"] * IVF_TRAIN_PER_LIST)
        # Peak and CPU of stage 2 alone, before the recall check below.
        res["peak_rss_mb"] = peak_rss_mb()
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        res["cpu_seconds"] = ru.ru_utime + ru.ru_stime
        # Recall@10 of these lists on 1,000 sampled rows against exact faiss
        # search (their own row excluded), in bounded memory.
        q = np.sort(np.random.default_rng(1).choice(n_pool, 1000, replace=False))
        exact = coverage_lists(x, x[q], 11, index="flat")
        exact = [[v for v in row if v != own][:10] for row, own in zip(exact, q)]
        res["recall_at_10"] = float(np.mean([len(set(e) & set(g)) / 10 for e, g in zip(exact, lists[q])]))
        np.save(out, np.asarray(sel, dtype=np.float64))
        print("RESULT " + json.dumps(res), flush=True)
        return
    res["peak_rss_mb"] = peak_rss_mb()
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    res["cpu_seconds"] = ru.ru_utime + ru.ru_stime
    print("RESULT " + json.dumps(res), flush=True)


def run_child(job: str, tmp: Path) -> tuple[dict, np.ndarray]:
    import json
    import subprocess

    out = tmp / (job.replace(":", "_") + ".npy")
    proc = subprocess.run([sys.executable, __file__, "--child", job, "--out", str(out)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{job} failed:\n{proc.stderr[-2000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[7:]), np.load(out)


def _same(a: np.ndarray, b: np.ndarray) -> str:
    """Whether two runs' picks (row 0) agree; where not, whether the first
    difference is a tie within float32 rounding (row 1: the scores)."""
    diff = np.flatnonzero(a[0] != b[0])
    if not len(diff):
        return "picks identical"
    t = diff[0]
    return (f"first difference at pick {t + 1} of {len(a[0])}, scores {a[1][t]:.7f} vs {b[1][t]:.7f} "
            f"(tie within float32 rounding: {abs(a[1][t] - b[1][t]) < 1e-5})")


def bench_scale(sizes: list[int], kinds: list[str], previous_max: int, flat_max: int, previous_kinds: list[str],
                parts: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "coreset" in parts:
            _scale_coreset(sizes, kinds, previous_max, previous_kinds, tmp)
        if "similarity" in parts:
            _scale_similarity(sizes, kinds, flat_max, tmp)


def _scale_coreset(sizes, kinds, previous_max, previous_kinds, tmp) -> None:
    print("\n== core-set at scale: M = 5 %, d = 384, seed = lowest mean similarity; one run each, own process ==")
    for n in sizes:
        for kind in kinds:
            load = os.getloadavg()[0]
            new, a = run_child(f"coreset:new:{n}:{kind}", tmp)
            print(f"N = {n:>9,} {kind:<10} new (lazy, stops early): {new['seconds']:7.1f} s, peak RSS {new['peak_rss_mb']:6.0f} MB "
                  f"(data alone {new['rss_after_data_mb']:.0f} MB), {new['pairs_share']:.2f} of N·M products, "
                  f"{new['outer']} pool-wide steps, {new['stopped']:,} early stops, {new['cpu_seconds']:.0f} CPU s; load {load:.1f}")
            load = os.getloadavg()[0]
            lazy, c = run_child(f"coreset:nostop:{n}:{kind}", tmp)
            print(f"N = {n:>9,} {kind:<10} lazy without early stops: {lazy['seconds']:7.1f} s, peak RSS {lazy['peak_rss_mb']:6.0f} MB, "
                  f"{lazy['pairs_share']:.2f} of N·M products, {lazy['cpu_seconds']:.0f} CPU s; "
                  f"ratio {lazy['seconds'] / new['seconds']:.2f}x; {_same(a, c)}; load {load:.1f}")
            if n > previous_max and kind not in previous_kinds:
                continue
            load = os.getloadavg()[0]
            old, b = run_child(f"coreset:previous:{n}:{kind}", tmp)
            same = _same(a, b)
            print(f"N = {n:>9,} {kind:<10} previous (blocked): {old['seconds']:6.1f} s, peak RSS {old['peak_rss_mb']:6.0f} MB; "
                  f"{old['cpu_seconds']:.0f} CPU s; ratio {old['seconds'] / new['seconds']:.2f}x; {same}; load {load:.1f}")


def _scale_similarity(sizes, kinds, flat_max, tmp) -> None:
    print("\n== similarity (stage 2) at scale: target = pool, k_cov = 10, M = 3 % (the S share of 5 % at 1:3:1) ==")
    for n in sizes:
        for kind in kinds:
            got, runs = {}, {}
            for impl in ("flat", "ivf"):
                if impl == "flat" and n > flat_max:
                    print(f"N = {n:>9,} {kind:<10} flat: not run (exact top-10 over N² = {n * n:.1e} products; ~"
                          f"{n * n * D * 2 / 60e9 / 3600:.1f} h at 60 GFLOP/s)")
                    continue
                load = os.getloadavg()[0]
                r, picks = run_child(f"similarity:{impl}:{n}:{kind}", tmp)
                got[impl], runs[impl] = picks, r
                how = f" ({r['nlist']} lists, {r['nprobe']} probed, trained on {r['train_rows']:,} rows)" if impl == "ivf" else ""
                print(f"N = {n:>9,} {kind:<10} {impl:<4}{how}: lists {r['lists_seconds']:7.1f} s + greedy {r['greedy_seconds']:6.1f} s, "
                      f"{r['cpu_seconds']:.0f} CPU s, peak RSS {r['peak_rss_mb']:6.0f} MB (data alone {r['rss_after_data_mb']:.0f} MB), "
                      f"recall@10 {r['recall_at_10']:.3f} (1,000 sampled rows); load {load:.1f} at start, "
                      f"{os.getloadavg()[0]:.1f} at end", flush=True)
            if len(got) == 2:
                overlap = len(set(got["flat"].astype(int)) & set(got["ivf"].astype(int))) / len(got["flat"])
                print(f"N = {n:>9,} {kind:<10} picks shared by flat and ivf selections: {overlap:.1%}"
                      f"; flat / ivf time {runs['flat']['seconds'] / runs['ivf']['seconds']:.1f}x", flush=True)


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # small-text's arccos of 1 + 1e-7
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-knn", action="store_true")
    ap.add_argument("--skip-small-text", action="store_true")
    ap.add_argument("--scale", default="", help="sizes for the at-scale runs, e.g. 100000,1000000 (skips the rest)")
    ap.add_argument("--kinds", default="isotropic,clustered")
    ap.add_argument("--previous-max", type=int, default=1_000_000, help="largest N to time the previous core-set at")
    ap.add_argument("--previous-kinds", default="", help="kinds to time the previous core-set at even above --previous-max")
    ap.add_argument("--flat-max", type=int, default=100_000, help="largest N to build exact coverage lists at")
    ap.add_argument("--parts", default="coreset,similarity", help="at-scale parts to run (comma-separated)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.out)
        return
    if args.scale:
        print(f"load average at start {os.getloadavg()[0]:.1f} (2 shared cores: other work slows every figure)")
        bench_scale([int(v) for v in args.scale.split(",")], args.kinds.split(","), args.previous_max, args.flat_max,
                    [k for k in args.previous_kinds.split(",") if k], args.parts.split(","))
        print(f"\nload average at end {os.getloadavg()[0]:.1f}")
        return
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
