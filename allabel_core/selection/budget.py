"""Budgets, budget splits and stage orders, checked once with clear errors.

A budget is a count (an integer ≥ 0) or a fraction of the pool
(``0 < f ≤ 1`` → ``round(f · N)``, at least 1). A split such as ``"1:3:1"``
divides a budget between the stages diversity : similarity : uncertainty
(always in that order, whatever order the stages run in); an order such as
``"DSU"`` says which stage runs first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import BudgetError, ConfigError, DimensionError, EmptyPoolError
from .stages import STAGE_LETTERS

DEFAULT_SPLIT = (1.0, 3.0, 1.0)
DEFAULT_ORDER = STAGE_LETTERS


def resolve_budget(budget: int | float | str, n_pool: int) -> int:
    """A budget as a number of sentences.

    ``budget``: an integer count, or a fraction ``0 < f ≤ 1`` of ``n_pool``
    (``round(f · n_pool)``, at least 1). ``1`` and ``1.0`` differ: the int is
    one sentence, the float the whole pool. Strings are parsed (``"0.05"``,
    ``"5%"``, ``"200"``). Raises :class:`BudgetError` for negative, NaN,
    non-integral counts above 1, or a count larger than the pool.
    """
    value = _parse_budget(budget)
    if n_pool <= 0:
        raise EmptyPoolError("the pool is empty: there is nothing to select from; load a corpus with sentences first")
    if isinstance(value, float):
        if not 0.0 < value <= 1.0:
            raise BudgetError(f"budget fraction {value} must lie in (0, 1]; give a count (e.g. 200) for more than the pool")
        count = max(1, int(round(value * n_pool)))
    else:
        count = value
    if count > n_pool:
        raise BudgetError(
            f"budget of {count} sentences is larger than the pool ({n_pool}); "
            f"give at most {n_pool} or a fraction such as 0.05"
        )
    return count


def _parse_budget(budget: int | float | str) -> int | float:
    if isinstance(budget, bool):
        raise BudgetError(f"budget must be a count or a fraction, got {budget!r}")
    if isinstance(budget, str):
        text = budget.strip()
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100.0
            if text.isdigit():
                return int(text)
            budget = float(text)
        except ValueError:
            raise BudgetError(f"budget {budget!r} is not a number; use a count (200) or a fraction (0.05)") from None
    if isinstance(budget, (int, np.integer)):
        if budget < 0:
            raise BudgetError(f"budget must not be negative, got {budget}")
        return int(budget)
    if isinstance(budget, (float, np.floating)):
        b = float(budget)
        if math.isnan(b) or b <= 0:
            raise BudgetError(f"budget must be positive, got {budget}")
        if b > 1.0:
            if b != int(b):
                raise BudgetError(f"budget {budget} is neither a fraction in (0, 1] nor a whole count")
            return int(b)
        return b
    raise BudgetError(f"budget must be a count or a fraction, got {budget!r}")


def parse_budgets(text: str) -> list[int | float]:
    """``"0.01,0.05,200"`` -> ``[0.01, 0.05, 200]``: comma-separated pool
    fractions (``0 < f <= 1``) or counts, as a person types them."""
    out: list[int | float] = []
    for part in filter(None, (x.strip() for x in text.split(","))):
        try:
            out.append(int(part) if part.isdigit() else float(part))
        except ValueError:
            raise ConfigError(f"{part!r} is not a number") from None
    if not out:
        raise ConfigError("give at least one budget")
    return out


def parse_split(split: str | Sequence[float]) -> tuple[float, float, float]:
    """``"1:3:1"`` → ``(1.0, 3.0, 1.0)``: weights of diversity, similarity,
    uncertainty. Weights are non-negative and not all zero."""
    if isinstance(split, str):
        parts = split.replace(",", ":").split(":")
        try:
            weights = tuple(float(p) for p in parts)
        except ValueError:
            raise ConfigError(f"split {split!r} is not three numbers like 1:3:1 (diversity:similarity:uncertainty)") from None
    else:
        weights = tuple(float(w) for w in split)
    if len(weights) != 3:
        raise ConfigError(f"split {split!r} needs three weights, diversity:similarity:uncertainty, e.g. 1:3:1")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"split {split!r}: weights must be non-negative and not all zero")
    return weights  # type: ignore[return-value]


def parse_order(order: str) -> str:
    """``"DSU"`` (default), ``"SDU"``, ``"DS"``…: each of D, S, U at most once."""
    text = str(order).strip().upper()
    if not text or any(ch not in STAGE_LETTERS for ch in text) or len(set(text)) != len(text):
        raise ConfigError(f"stage order {order!r} must use each of D (diversity), S (similarity), U (uncertainty) at most once, e.g. DSU")
    return text


def split_budget(n: int, split: str | Sequence[float] = DEFAULT_SPLIT, order: str = DEFAULT_ORDER) -> dict[str, int]:
    """Divide ``n`` between the stages by largest remainder.

    Returns ``{"D": d, "S": s, "U": u}`` summing to ``n``. Stages missing from
    ``order`` get nothing (their weight is dropped and the rest renormalised).
    Remainder ties go to the stage that runs first.
    """
    weights = dict(zip(STAGE_LETTERS, parse_split(split)))
    order = parse_order(order)
    active = [s for s in order if weights[s] > 0]
    if not active:
        raise ConfigError(f"split {split!r} gives no weight to any stage in order {order!r}")
    total = sum(weights[s] for s in active)
    exact = {s: n * weights[s] / total for s in active}
    quotas = {s: int(math.floor(exact[s])) if s in exact else 0 for s in STAGE_LETTERS}
    left = n - sum(quotas.values())
    for s in sorted(active, key=lambda s: (-(exact[s] - math.floor(exact[s])), order.index(s)))[:left]:
        quotas[s] += 1
    return quotas


DEFAULT_MIN_STAGE = 20  # sentences; chosen on the dev splits (see fold_small_stages)


def fold_small_stages(quotas: dict[str, int], min_stage: int) -> dict[str, int]:
    """Give the similarity stage the quota of any other stage that would get
    fewer than ``min_stage`` sentences (but some).

    At tiny budgets a handful of core-set picks are outliers and a handful
    of uncertainty picks are noise; coverage of the target uses them
    better. Nothing changes when the similarity stage has no weight (its
    quota is 0 and the split asked for none) or ``min_stage`` is 0.
    """
    if min_stage < 0:
        raise ConfigError(f"min_stage must not be negative, got {min_stage}")
    out = dict(quotas)
    if not min_stage or not out.get("S"):
        return out
    for stage in ("D", "U"):
        if 0 < out[stage] < min_stage:
            out["S"] += out[stage]
            out[stage] = 0
    return out


def check_pool(pool_vectors: np.ndarray, selected, n: int, target_vectors: np.ndarray | None = None):
    """Validate the inputs every strategy shares.

    Returns ``(pool, selected, target)``: the pool as C-contiguous float32
    ``(N, d)``, ``selected`` as a sorted-free int64 array (order kept) and
    the target as float32 ``(T, d)`` or ``None``. Raises
    :class:`EmptyPoolError` for an empty or exhausted pool,
    :class:`BudgetError` when ``n`` exceeds what is left,
    :class:`DimensionError` for shapes that do not agree.
    """
    pool = np.ascontiguousarray(pool_vectors, dtype=np.float32)
    if pool.ndim != 2:
        raise DimensionError(f"pool vectors must be a 2-D array (N, d), got shape {pool.shape}")
    n_pool = len(pool)
    if n_pool == 0:
        raise EmptyPoolError("the pool is empty: there is nothing to select from; load a corpus with sentences first")
    sel = np.asarray(list(selected) if selected is not None else [], dtype=np.int64).ravel()
    if len(sel):
        if sel.min() < 0 or sel.max() >= n_pool:
            raise ConfigError(f"selected indices must lie in [0, {n_pool}); got {sel.min()}..{sel.max()}")
        if len(np.unique(sel)) != len(sel):
            raise ConfigError("selected indices contain duplicates")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise BudgetError(f"the number to select must be a non-negative integer, got {n!r}; resolve fractions with resolve_budget")
    left = n_pool - len(sel)
    if n > 0 and left == 0:
        raise EmptyPoolError(f"all {n_pool} pool sentences are already selected: nothing is left to select")
    if n > left:
        raise BudgetError(
            f"asked for {n} more sentences but only {left} of the {n_pool} pool sentences are not yet selected; "
            f"lower the budget to at most {left}"
        )
    target = None
    if target_vectors is not None:
        target = np.ascontiguousarray(target_vectors, dtype=np.float32)
        if target.ndim != 2:
            raise DimensionError(f"target vectors must be a 2-D array (T, d), got shape {target.shape}")
        if target.shape[1] != pool.shape[1]:
            raise DimensionError(
                f"target vectors have {target.shape[1]} dimensions but pool vectors {pool.shape[1]}; "
                "embed both with the same model"
            )
        if len(target) == 0:
            raise EmptyPoolError("the target set is empty: give target sentences, or leave the target out to use the pool")
    return pool, sel, target
