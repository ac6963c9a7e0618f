"""Stage 1, diversity: greedy k-center core-set with a warm-start seed.

Sener & Savarese (2018), "Active Learning for Convolutional Neural Networks:
A Core-Set Approach": repeatedly add the pool sentence whose highest cosine
similarity to anything already selected is lowest (max–min, i.e. k-center
greedy). ALLabel seeds it with the sentence of lowest mean similarity to the
rest of the pool (``seed="lowest-mean"``); a resumed session starts from the
already-selected set instead.

Cost: O(N·d) for the seed, at most O(N·d·M) for M picks, O(N + M·d)
extra memory (per pool row a bound, its argmax and a counter; the picks'
vectors); never N×N.

Why it is lazy: the textbook update is one GEMV over the whole pool per
pick. Here each row keeps a lower bound on its highest similarity to the
selection -- exact as of the first ``seen`` picks, and a lower bound after,
since that value only grows. Only the ``cand`` rows with the lowest bounds
are brought up to date (against exactly the picks they missed, in row tiles
sorted by ``seen``, as GEMMs over a contiguous matrix of the picks); a
``shortlist`` of the lowest of those is kept exact pick by pick with one
small GEMV. A shortlist row is the global pick while its exact value is not
above the lowest bound of every other row; when that fails the candidates
are brought up to date, and when they all rise above the bound outside them
the pool-wide step is repeated.

Why it stops early: a candidate is brought up to date only to learn its
exact value if that value is below the lowest bound outside the
candidates; the picks it missed are taken in order, block by block, and a
row whose value rises above that bound stops there (still exact as of the
picks it has seen, so the bound stays a true lower bound) and waits until
the frontier rises to it. Rows far from the frontier are never touched
again. Measured on synthetic 384-d unit rows at 5 %
(benchmarks/bench_selection_speed.py ``--scale``): a million isotropic
rows need 0.27 of the N·M dot products, against 0.45 without stopping
early; clustered ones fewer still.

The picks are therefore the textbook greedy's, with its tie rule (the
lowest pool index among equal values) within the shortlist; only
similarities that are equal in exact arithmetic may come out of different
BLAS tiles rounded differently in float32, or tie across the bound, and
such a tie may then go either way.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ..errors import ConfigError

from .budget import check_pool
from .picks import Pick, Selection

SEEDS = ("lowest-mean", "highest-mean", "random")
CANDIDATES = ("all", "inliers")
_ROWS = 4096  # rows per GEMM tile: bounds the (rows, block) scratch matrix (16 MB at block 1024)
# Below this many multiply-adds (about 10 ms on one core) a bring-up-to-date
# runs BLAS on one thread; the shortlist's per-pick products always do.
_SMALL_WORK = 3e8


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_thread():
    """BLAS on one thread, for products too small to share: waking a second
    BLAS thread costs more than a (512, 384) product, and on a busy machine,
    where that thread must wait for a core, many times more (measured at
    load 7-8 on 2 cores: a 10,000-row core-set took 0.9-1.8 s on two BLAS
    threads and 0.26 s on one)."""
    return _blas().limit(limits=1, user_api="blas")


def mean_similarity(pool: np.ndarray) -> np.ndarray:
    """Mean cosine similarity of each pool row to every other row, O(N·d).

    ``pool``: ``(N, d)`` float32, unit rows. Returns ``(N,)`` float64:
    ``(e_i · Σ_j e_j − e_i · e_i) / (N − 1)`` (``e_i · e_i = 1`` for unit
    rows; zero rows score 0). For ``N = 1`` returns ``[0.0]``.
    """
    pool = np.asarray(pool, dtype=np.float32)
    n = len(pool)
    if n <= 1:
        return np.zeros(n)
    total = pool.sum(axis=0, dtype=np.float64)
    out = np.empty(n)
    step = 2048  # float64 scratch of (step, d): 6 MB at d = 384
    for r in range(0, n, step):
        block = pool[r : r + step].astype(np.float64)
        out[r : r + step] = (block @ total - np.einsum("ij,ij->i", block, block)) / (n - 1)
    return out


def choose_seed(pool: np.ndarray, rule: str, rng: np.random.Generator, allowed: np.ndarray | None = None) -> tuple[int, float]:
    """The first pick of an empty selection and the score it won on.

    ``rule``: ``"lowest-mean"`` (ALLabel: the least typical sentence),
    ``"highest-mean"`` (the most typical one) or ``"random"``.
    ``allowed``: optional ``(N,)`` bool mask of eligible rows.
    """
    if rule not in SEEDS:
        raise ConfigError(f"unknown seed rule {rule!r}; choose one of {', '.join(SEEDS)}")
    eligible = np.flatnonzero(allowed) if allowed is not None else np.arange(len(pool))
    if rule == "random":
        return int(eligible[rng.integers(len(eligible))]), float("nan")
    means = mean_similarity(pool)
    vals = means[eligible]
    j = int(np.argmin(vals)) if rule == "lowest-mean" else int(np.argmax(vals))
    return int(eligible[j]), float(vals[j])


class _Bounds:
    """Per pool row: a lower bound ``low`` on its highest similarity to the
    selection (exact as of the first ``seen`` picks), the pick it came from,
    and the picks so far as one contiguous matrix, so that bringing rows up
    to date is a few fat GEMMs over contiguous slices."""

    def __init__(self, pool: np.ndarray, initial: np.ndarray, capacity: int, block: int, stats: dict | None):
        n, d = pool.shape
        self.pool, self.block, self.stats = pool, block, stats
        self.low = np.full(n, -np.inf, dtype=np.float32)
        self.nearest = np.full(n, -1, dtype=np.int64)
        self.seen = np.zeros(n, dtype=np.int64)
        self.hist = np.empty(capacity, dtype=np.int64)
        self.vecs = np.empty((capacity, d), dtype=np.float32)
        self.h = 0
        for p in initial:
            self.add(int(p))
        self.bring(np.arange(n, dtype=np.int64))

    def add(self, p: int) -> None:
        self.hist[self.h] = p
        self.vecs[self.h] = self.pool[p]
        self.h += 1
        self.low[p] = np.inf

    def bring(self, rows: np.ndarray, above: float = np.inf) -> None:
        """Make ``low``/``nearest`` of ``rows`` exact: each row against exactly
        the picks it has not seen, in row tiles sorted by ``seen`` so that a
        tile's picks are one contiguous slice; tiles are at most
        ``(_ROWS, block)``.

        ``above``: a row whose value rises above it is left there, exact as
        of the picks it has seen so far (``seen`` says how many): its true
        value is above ``above``, which is all the caller needs to know of
        it. A row already above it is not touched. Strictly above: a row at
        the bound is brought on, so every call on rows at or below it makes
        progress, and a row never stops twice at the same place.
        """
        rows = rows[(self.seen[rows] < self.h) & (self.low[rows] <= above)]
        if not len(rows):
            return
        order = np.argsort(self.seen[rows], kind="stable")
        rows = rows[order]
        first = self.seen[rows]
        h = self.h
        small = float(h * len(rows) - first.sum()) * self.pool.shape[1] < _SMALL_WORK
        with _one_thread() if small else contextlib.nullcontext():
            self._bring_sorted(rows, first, above)

    def _bring_sorted(self, rows: np.ndarray, first: np.ndarray, above: float) -> None:
        h = self.h
        tile_rows = min(_ROWS, len(rows))
        buf = np.empty(tile_rows * min(self.block, h), dtype=np.float32)
        a = 0
        while a < len(rows):
            # A tile starts at its first row's `seen`; end it before a row that
            # would waste more than an eighth of the tile's work on picks it saw.
            limit = first[a] + (h - first[a]) // 8
            end = min(a + tile_rows, max(a + 1, int(np.searchsorted(first, limit, side="right"))))
            r = rows[a:end]
            best = self.low[r]
            near = self.nearest[r]
            xr = self.pool[r]
            for c in range(int(first[a]), h, self.block):
                e = min(c + self.block, h)
                sims = buf[: len(r) * (e - c)].reshape(len(r), e - c)
                _tile(xr, self.vecs[c:e], sims)
                j = sims.argmax(axis=1)
                b = sims[np.arange(len(r)), j]
                up = b > best
                best[up] = b[up]
                near[up] = self.hist[c + j[up]]
                if self.stats is not None:
                    self.stats["pairs"] += int((e - c) * len(r))
                if e == h:
                    break
                # Rows that rose above `above` stop here, once they are a
                # quarter of the tile (a smaller tile is not worth the copy).
                stop = best > above
                n_stop = int(np.count_nonzero(stop))
                if n_stop and 4 * n_stop >= len(r):
                    done = r[stop]
                    self.low[done], self.nearest[done], self.seen[done] = best[stop], near[stop], e
                    if self.stats is not None:
                        self.stats["stopped"] += n_stop
                    go = ~stop
                    r, best, near, xr = r[go], best[go], near[go], xr[go]
                    if not len(r):
                        break
            self.low[r] = best
            self.nearest[r] = near
            self.seen[r] = h
            a = end

def _tile(rows: np.ndarray, picks: np.ndarray, out: np.ndarray) -> None:
    """One GEMM tile: ``out = rows @ picks.T`` (at most ``(_ROWS, block)``)."""
    np.matmul(rows, picks.T, out=out)


def greedy_kcenter(
    pool: np.ndarray,
    initial: np.ndarray,
    n: int,
    *,
    allowed: np.ndarray | None = None,
    block: int = 1024,
    shortlist: int = 512,
    cand: int = 16384,
    early_stop: bool = True,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy max–min picks, starting from a non-empty ``initial`` set.

    ``pool``: ``(N, d)`` float32 C-contiguous, unit rows. ``initial``:
    indices already selected (at least one). ``allowed``: optional ``(N,)``
    bool mask of rows that may be picked (all rows still count as covered).
    Returns ``(picks, scores, nearest)``, each ``(n,)``: the picked rows in
    order, the highest similarity each had to the selection when picked, and
    the selected row that similarity was to.

    Tuning only (results do not depend on them): ``cand`` rows with the
    lowest bounds (at most N/16, or 1,024 if more) are brought up to date
    per pool-wide step, ``shortlist``
    of those are kept exact pick by pick, ``block`` picks share one GEMM
    tile, and ``early_stop=False`` brings every candidate fully up to date
    (for measuring what stopping early saves). ``stats``: if a dict,
    receives ``pairs`` (row-pick dot products computed), ``outer`` and
    ``inner`` (pool-wide and candidate-set steps) and ``stopped`` (rows
    left part-way because they reached the bound outside the candidates).
    """
    N = len(pool)
    initial = np.asarray(initial, dtype=np.int64)
    if len(initial) == 0:
        raise ConfigError("greedy_kcenter needs at least one selected row to start from; choose a seed first")
    if not (block >= 1 and shortlist >= 1 and cand >= 1):
        raise ConfigError(f"block, shortlist and cand must be at least 1, got {block}, {shortlist}, {cand}")
    cand = min(cand, max(1024, N // 16))
    st = {"pairs": 0, "outer": 0, "inner": 0, "stopped": 0}
    bd = _Bounds(pool, initial, len(initial) + n, block, st)
    low = bd.low
    if allowed is not None:
        low[~np.asarray(allowed, dtype=bool)] = np.inf
    n_avail = int(np.count_nonzero(low < np.inf))
    if n > n_avail:
        raise ConfigError(f"only {n_avail} rows can still be picked, {n} asked")

    out = np.empty(n, dtype=np.int64)
    out_score = np.empty(n, dtype=np.float32)
    out_near = np.empty(n, dtype=np.int64)
    t = 0
    while t < n:
        # Pool-wide step: the `cand` rows with the lowest bounds; every other
        # row's true value is at least `outside`.
        st["outer"] += 1
        k = min(cand, n_avail - t)
        if k < n_avail - t:
            part = np.argpartition(low, k)
            rows, outside = part[:k], float(low[part[k]])
        else:
            rows, outside = np.flatnonzero(low < np.inf), np.inf
        while t < n:
            st["inner"] += 1
            rows = rows[low[rows] < np.inf]
            # Candidates that rise above `outside` on the way are as good as
            # outside rows: they stop there and leave the candidate set.
            bd.bring(rows, outside if early_stop else np.inf)
            rows = rows[bd.seen[rows] == bd.h]  # now exact
            if not len(rows):
                break  # all candidates picked or above `outside`: widen
            s = min(shortlist, len(rows))
            if s < len(rows):
                sp = np.argpartition(low[rows], s)
                short = np.sort(rows[sp[:s]])  # sorted: argmin's first hit is the lowest pool index
                bound = min(outside, float(low[rows[sp[s]]]))
            else:
                short, bound = np.sort(rows), outside
            sv = low[short].copy()
            sn = bd.nearest[short].copy()
            xs = pool[short]
            got = 0
            with _one_thread():
                while t < n:
                    j = int(np.argmin(sv))
                    # The shortlist's lowest exact value against a lower bound on
                    # every other row: not above it means it is the global lowest
                    # (equal: an exact tie, which either side may win).
                    if not sv[j] <= bound:
                        break
                    p = int(short[j])
                    out[t], out_score[t], out_near[t] = p, sv[j], sn[j]
                    t += 1
                    got += 1
                    sv[j] = np.inf
                    bd.add(p)
                    sim = xs @ pool[p]
                    up = sim > sv
                    sv[up] = sim[up]
                    sn[up] = p
                    st["pairs"] += len(short)
            live = short[sv < np.inf]
            low[live] = sv[sv < np.inf]
            bd.nearest[live] = sn[sv < np.inf]
            bd.seen[live] = bd.h
            if got == 0:
                break  # every candidate is now above some outside bound: widen
    if stats is not None:
        stats.update(st)
    return out, out_score, out_near


def select_coreset(
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    seed: str = "lowest-mean",
    candidates: str = "all",
    outlier_quantile: float = 0.1,
    block: int = 1024,
    shortlist: int = 512,
    cand: int = 16384,
) -> Selection:
    """Stage 1 (diversity): warm-start greedy k-center core-set.

    ``pool_vectors``: ``(N, d)`` float32, unit rows. ``selected``: pool
    indices already annotated (a non-empty selection skips the seed).
    ``n``: how many to add. ``seed``: ``"lowest-mean"`` (ALLabel),
    ``"highest-mean"`` or ``"random"``. ``candidates``: ``"all"`` (ALLabel)
    or ``"inliers"``, which never picks the ``outlier_quantile`` share of
    the pool with the lowest mean similarity (they still count as covered);
    falls back to all rows if too few remain. ``target_vectors`` is
    accepted for a uniform signature and ignored: the core-set covers the
    pool. Returns a :class:`Selection` of ``n`` picks.
    """
    if candidates not in CANDIDATES:
        raise ConfigError(f"unknown candidates rule {candidates!r}; choose one of {', '.join(CANDIDATES)}")
    pool, sel, _ = check_pool(pool_vectors, selected, n, target_vectors)
    params = {"seed": seed, "candidates": candidates}
    if candidates == "inliers":
        params["outlier_quantile"] = outlier_quantile
    if n == 0:
        return Selection((), params)
    allowed = None
    note = ""
    if candidates == "inliers":
        means = mean_similarity(pool)
        allowed = means >= np.quantile(means, outlier_quantile)
        allowed[sel] = False
        if np.count_nonzero(allowed) < n:
            allowed, note = None, "too few inliers left: all rows eligible"
        else:
            note = f"outliers (lowest {outlier_quantile:.0%} mean similarity) not eligible"
    picks: list[Pick] = []
    start = sel
    if len(sel) == 0:
        s, score = choose_seed(pool, seed, rng, allowed)
        why = "seed: random" if seed == "random" else f"seed: {seed.split('-')[0]} mean similarity to the pool"
        picks.append(Pick(s, "diversity", score, note=why + (f"; {note}" if note else "")))
        start = np.array([s], dtype=np.int64)
        if allowed is not None:
            allowed[s] = False
    rest = n - len(picks)
    if rest:
        idx, scores, near = greedy_kcenter(
            pool, start, rest, allowed=allowed, block=block, shortlist=shortlist, cand=cand
        )
        picks.extend(
            Pick(int(i), "diversity", float(s), int(m), float(s), note)
            for i, s, m in zip(idx, scores, near)
        )
    return Selection(tuple(picks), params)
