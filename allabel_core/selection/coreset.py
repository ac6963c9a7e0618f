"""Stage 1, diversity: greedy k-center core-set with a warm-start seed.

Sener & Savarese (2018), "Active Learning for Convolutional Neural Networks:
A Core-Set Approach": repeatedly add the pool sentence whose highest cosine
similarity to anything already selected is lowest (max–min, i.e. k-center
greedy). ALLabel seeds it with the sentence of lowest mean similarity to the
rest of the pool (``seed="lowest-mean"``); a resumed session starts from the
already-selected set instead.

Cost: O(N·d) for the seed, O(N·d·M) for M picks, O(N) extra memory (the
running highest similarity and its argmax per pool row); never N×N.

Why it is blocked: the textbook update is one GEMV over the whole pool per
pick, which only streams memory (≈ 4·N·d bytes per pick). Here picks are
found on a shortlist of the rows with the lowest (exact) running maximum,
kept exact by a GEMV over the shortlist only; the whole pool is updated once
per ``block`` picks with one GEMM, which is compute-bound. The shortlist
pick is provably the global one while its value is below the lowest running
maximum outside the shortlist (those values only grow, so stale ones are
lower bounds); when that test fails the pool is brought up to date first.
The picks are therefore the textbook greedy's, with its tie rule (the
lowest pool index among equal values); only similarities that are equal in
exact arithmetic may come out of different BLAS tiles rounded differently
in float32, and such a tie may then go either way.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

from .budget import check_pool
from .picks import Pick, Selection

SEEDS = ("lowest-mean", "highest-mean", "random")
CANDIDATES = ("all", "inliers")
_ROWS = 4096  # rows per GEMM chunk: bounds the (rows, block) scratch matrix (4 MB at block 256)


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


def _apply(pool: np.ndarray, picks: np.ndarray, maxsim: np.ndarray, nearest: np.ndarray, block: int) -> None:
    """Raise ``maxsim``/``nearest`` of every row by its similarity to ``picks``,
    one GEMM per ``(_ROWS, block)`` tile into one reused buffer. Rows at
    ``+inf`` (taken) stay; the argmax is computed only for rows that rise."""
    rows = min(_ROWS, len(pool))
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


def greedy_kcenter(
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
        raise ConfigError("greedy_kcenter needs at least one selected row to start from; choose a seed first")
    maxsim = np.full(N, -np.inf, dtype=np.float32)
    nearest = np.full(N, -1, dtype=np.int64)
    maxsim[initial] = np.inf
    if allowed is not None:
        maxsim[~allowed] = np.inf
    _apply(pool, initial, maxsim, nearest, block)
    n_avail = int(np.count_nonzero(maxsim < np.inf))
    if n > n_avail:
        raise ConfigError(f"only {n_avail} rows can still be picked, {n} asked")

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
                _apply(pool, np.asarray(pending), maxsim, nearest, block)
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
    block: int = 256,
    shortlist: int = 1024,
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
        idx, scores, near = greedy_kcenter(pool, start, rest, allowed=allowed, block=block, shortlist=shortlist)
        picks.extend(
            Pick(int(i), "diversity", float(s), int(m), float(s), note)
            for i, s, m in zip(idx, scores, near)
        )
    return Selection(tuple(picks), params)
