"""The reference points of every curve: random selection and the full pool."""

from __future__ import annotations

import numpy as np

from ..errors import BudgetError
from .budget import check_pool
from .picks import Pick, Selection


def select_random(
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
) -> Selection:
    """``n`` unselected pool rows uniformly at random, without replacement.

    A strong baseline for in-context NER ("In-context learning on a budget",
    arXiv 2406.13274). ``target_vectors`` is accepted and ignored.
    """
    pool, sel, _ = check_pool(pool_vectors, selected, n, target_vectors)
    free = np.setdiff1d(np.arange(len(pool)), sel)
    picked = rng.choice(free, size=n, replace=False) if n else free[:0]
    return Selection(tuple(Pick(int(i), "random", float("nan")) for i in picked), {})


def select_full(
    pool_vectors: np.ndarray,
    selected,
    n: int | None = None,
    *,
    rng: np.random.Generator | None = None,
    target_vectors: np.ndarray | None = None,
) -> Selection:
    """Every unselected pool row, in pool order: the ceiling of a curve.

    ``n`` must be ``None`` or exactly the number of unselected rows.
    """
    pool, sel, _ = check_pool(pool_vectors, selected, 0, target_vectors)
    free = np.setdiff1d(np.arange(len(pool)), sel)
    if n is not None:
        check_pool(pool, sel, n)
        if n != len(free):
            raise BudgetError(f"'full' takes the whole remaining pool ({len(free)} sentences), not {n}")
    return Selection(tuple(Pick(int(i), "full", float("nan"), note="the whole pool") for i in free), {})
