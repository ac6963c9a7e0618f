"""Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009, "Reciprocal Rank
Fusion outperforms Condorcet and individual Rank Learning Methods").

A document's fused score is ``Σ_r 1 / (c + rank_r)`` over the ranked lists
``r`` that hold it (ranks from 1); a list that does not hold it adds nothing.
``c`` (default 60, the paper's) damps the head: small ``c`` lets one list's
first place dominate, large ``c`` rewards documents that both lists rank.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_RRF_K = 60.0


def reciprocal_rank_fusion(lists: Sequence[Sequence[int]], k: int, *, c: float = DEFAULT_RRF_K) -> tuple[np.ndarray, np.ndarray]:
    """Fuse ranked id lists (best first; ids < 0 are padding and skipped).

    Returns the ``k`` best ``(ids, scores)``, best first. Equal fused scores
    keep the order in which the documents first appear when the lists are
    read in turn, one rank at a time (first list's rank 1, second list's
    rank 1, first list's rank 2, ...), so with two lists a tie goes to the
    first list's document.
    """
    if c < 0:
        raise ValueError(f"the fusion constant must not be negative, got {c}")
    score: dict[int, float] = {}
    first: dict[int, int] = {}
    depth = max((len(x) for x in lists), default=0)
    seen = 0
    for rank in range(depth):
        for ranked in lists:
            if rank < len(ranked) and int(ranked[rank]) >= 0:
                d = int(ranked[rank])
                score[d] = score.get(d, 0.0) + 1.0 / (c + rank + 1)
                if d not in first:
                    first[d] = seen
                    seen += 1
    order = sorted(score, key=lambda d: (-score[d], first[d]))[: max(k, 0)]
    return np.array(order, np.int64), np.array([score[d] for d in order], np.float32)
