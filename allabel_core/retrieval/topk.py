"""Exact, deterministic top-k over score vectors (ties: lower id first)."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, *, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest of ``scores`` (``(n,)``): ``(ids, values)``, best
    first, equal values in id order. ``positive``: only ids scoring above 0."""
    scores = np.asarray(scores)
    cand = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if k <= 0 or len(cand) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    vals = scores[cand]
    if len(cand) > k:
        # Everything tied with the k-th value stays a candidate, so the id
        # order settles the tie and not argpartition's internals.
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        keep = vals >= kth
        cand, vals = cand[keep], vals[keep]
    order = np.lexsort((cand, -vals))[:k]
    return cand[order].astype(np.int64), vals[order].astype(np.float32)


def pad_rows(rows, n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-query ``(ids, values)`` into ``(n_queries, k)`` arrays padded
    with id -1 and score -inf."""
    ids = np.full((n_queries, max(k, 0)), -1, np.int64)
    vals = np.full((n_queries, max(k, 0)), -np.inf, np.float32)
    for q, (i, v) in enumerate(rows):
        ids[q, : len(i)] = i
        vals[q, : len(v)] = v
    return ids, vals
