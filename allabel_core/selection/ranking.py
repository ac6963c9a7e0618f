"""Selectors: turn scores into picks, breaking exact ties with a seeded
random order so that no strategy silently prefers low pool indices."""

from __future__ import annotations

import numpy as np


def tie_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random priority per pool index (a permutation of ``0..n-1``); lower wins ties."""
    return rng.permutation(n).astype(np.int64)


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator, *, candidates: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest ``scores`` (best first), exact ties in seeded random order.

    ``scores``: ``(N,)``. ``candidates``: restrict to these indices (default
    all). NaN scores rank last.
    """
    scores = np.asarray(scores, dtype=np.float64)
    cand = np.arange(len(scores), dtype=np.int64) if candidates is None else np.asarray(candidates, dtype=np.int64)
    if k <= 0 or len(cand) == 0:
        return np.zeros(0, np.int64)
    vals = scores[cand]
    vals = np.where(np.isnan(vals), -np.inf, vals)
    order = np.lexsort((rng.random(len(cand)), -vals))
    return cand[order[:k]]


def argmax_with_ties(scores: np.ndarray, priority: np.ndarray) -> int:
    """The index of the highest score; among exact ties, the lowest ``priority``.

    ``scores`` ``(N,)`` float (use ``-inf`` for unavailable entries),
    ``priority`` ``(N,)`` from :func:`tie_order`. O(N).
    """
    best = scores.max()
    tied = np.flatnonzero(scores == best)
    if len(tied) == 1:
        return int(tied[0])
    return int(tied[np.argmin(priority[tied])])
