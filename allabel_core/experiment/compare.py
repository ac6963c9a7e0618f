"""What each strategy would pick for one budget, side by side, with coverage.

The picture a teacher needs to explain why ALLabel picks what it picks: for
the same pool, budget and seed, the picks of random, core-set, similarity
only and ALLabel, each with how well it serves the target
(:mod:`.coverage`). The strategies run through the registry
(:func:`~allabel_core.selection.run_strategy`), the functions the budget
curve runs, starting from nothing selected, as the curve does.

ALLabel's uncertainty share needs labels to predict with. With gold on the
pool (a benchmark, the sample project) they are revealed for the selected
sentences, as in the curve. Without gold there is nothing to retrieve yet,
and the share is taken as the live session's stage 3 takes it before any
label: within the coverage shortlist, by coverage
(:func:`~allabel_core.selection.uncertainty.cold_start_picks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .coverage import SERVED_AT, SimilarityCoverage, entity_coverage, nearest_selected, similarity_coverage
from ..selection import run_strategy, select_coreset, select_similarity, split_budget
from ..selection.budget import check_pool, parse_order
from ..selection.picks import Selection
from ..selection.ranking import top_k
from ..selection.similarity import coverage_lists, coverage_scores
from ..selection.uncertainty import cold_start_picks

COMPARE_STRATEGIES = ("random", "coreset", "similarity", "allabel")
LABELS = {"random": "random", "coreset": "core-set", "similarity": "similarity only", "allabel": "ALLabel"}


@dataclass(frozen=True)
class StrategyPicks:
    """One strategy's picks for the budget and how well they serve the target.

    ``indices``: pool rows in pick order; ``stages``: each pick's stage;
    ``coverage``: similarity coverage of the target; ``entity_coverage``:
    share of the target's gold entity mentions found among the ``k``
    demonstrations retrieved for their sentence (NaN without gold);
    ``note``: how it was computed, where that differs from the curve.
    """

    name: str
    indices: np.ndarray
    stages: tuple[str, ...]
    coverage: SimilarityCoverage
    entity_coverage: float = float("nan")
    note: str = ""
    best: np.ndarray = field(default=None, repr=False)  # (T,) highest similarity per target sentence

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


def allabel_cold_start(
    pool_vectors: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    split: str = "1:3:1",
    order: str = "DSU",
    shortlist_factor: float = 5.0,
    k_cov: int = 10,
    discount: float = 10.0,
) -> Selection:
    """ALLabel's stages from nothing selected when no labels exist: diversity
    and similarity as always, uncertainty by the cold-start rule (the first
    of the coverage shortlist), which is what the live session's stage 3
    does before any sentence is confirmed. Returns ``n`` picks."""
    pool, _, target = check_pool(pool_vectors, [], n, target_vectors)
    order = parse_order(order)
    quotas = split_budget(n, split, order)
    lists = coverage_lists(pool, target, int(k_cov), rng=rng) if n else None
    picks: list = []
    current: list[int] = []
    for stage in order:
        q = quotas[stage]
        if not q:
            continue
        if stage == "D":
            part = select_coreset(pool, current, q, rng=rng).picks
        elif stage == "S":
            part = select_similarity(pool, current, q, rng=rng, target_vectors=target, k_cov=k_cov,
                                     discount=discount, lists=lists).picks
        else:
            free = np.setdiff1d(np.arange(len(pool)), current)
            scores = coverage_scores(pool, current, target_vectors=target, k_cov=k_cov, discount=discount, lists=lists)
            size = min(len(free), int(np.ceil(shortlist_factor * q)))
            part = cold_start_picks(top_k(scores, size, rng, candidates=free), q, how=f"shortlist of {size} by stage-2 score")
        picks += part
        current += [p.index for p in part]
    return Selection(tuple(picks), {"split": split, "order": order, "quotas": quotas})


def compare_strategies(
    pool_vectors: np.ndarray,
    n: int,
    *,
    seed: int = 0,
    strategies: Sequence[str] = COMPARE_STRATEGIES,
    target_vectors: np.ndarray | None = None,
    context_for=None,
    allabel_params: dict | None = None,
    threshold: float = SERVED_AT,
    target_gold: Sequence | None = None,
    pool_gold: Sequence | None = None,
    k: int = 5,
) -> list[StrategyPicks]:
    """Each strategy's ``n`` picks from an empty selection, with coverage.

    Args:
        pool_vectors: ``(N, d)`` float32 unit rows.
        n: the budget (sentences).
        seed: one seed for every strategy (``np.random.default_rng(seed)``
            each), so a rerun gives the same map.
        target_vectors: ``(T, d)``, or None: the pool is the target, and
            coverage is measured over the pool rows a strategy did not pick.
        context_for: ``context_for() -> SelectionContext`` with a predictor
            and a gold ``annotate`` oracle for ALLabel's uncertainty share;
            None: that share follows the cold-start rule
            (:func:`allabel_cold_start`).
        allabel_params: ALLabel options (``split``, ``order``...), as the
            registry takes them.
        threshold: the similarity at which a target sentence counts as served.
        target_gold, pool_gold: span lists per target / pool row; with both,
            entity coverage is measured over the ``k`` retrieved demonstrations.
    """
    pool = np.ascontiguousarray(pool_vectors, dtype=np.float32)
    params = dict(allabel_params or {})
    out = []
    for name in strategies:
        rng = np.random.default_rng(seed)
        note = ""
        if name == "allabel" and context_for is None and _uncertainty_share(params):
            sel = allabel_cold_start(pool, n, rng=rng, target_vectors=target_vectors,
                                     **{k_: v for k_, v in params.items() if k_ in ("split", "order", "shortlist_factor", "k_cov", "discount")})
            note = "no gold: the uncertainty share is taken as before any label (cold start, by coverage)"
        else:
            ctx = context_for() if context_for is not None and name == "allabel" else None
            sel = run_strategy(name, pool, [], n, rng=rng, target_vectors=target_vectors, context=ctx,
                               **(params if name == "allabel" else {}))
        idx = sel.indices
        if target_vectors is None:
            rest = np.setdiff1d(np.arange(len(pool)), idx)
            queries = pool[rest]
            gold_t = [target_gold[i] for i in rest] if target_gold is not None else None
        else:
            queries = np.ascontiguousarray(target_vectors, dtype=np.float32)
            gold_t = target_gold
        sims, pos = nearest_selected(queries, pool[idx], k=max(1, k))
        ent = float("nan")
        if gold_t is not None and pool_gold is not None:
            ent = entity_coverage(gold_t, [pool_gold[i] for i in idx], pos)
        out.append(StrategyPicks(name, idx, tuple(p.stage for p in sel), similarity_coverage(sims[:, 0], threshold),
                                 ent, note, sims[:, 0]))
    return out


def _uncertainty_share(params: dict) -> bool:
    from ..selection.budget import parse_split

    return parse_split(params.get("split", "1:3:1"))[2] > 0 and "U" in str(params.get("order", "DSU")).upper()


def compare_table(results: Sequence[StrategyPicks]):
    """One row per strategy: ``strategy, picked, stages, mean similarity,
    served, entity coverage, note`` (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for r in results:
        counts: dict[str, int] = {}
        for s in r.stages:
            counts[s] = counts.get(s, 0) + 1
        rows.append({
            "strategy": r.label,
            "picked": len(r.indices),
            "stages": ", ".join(f"{k} {v}" for k, v in counts.items()),
            "mean similarity": r.coverage.mean,
            f"served (≥ {r.coverage.threshold:g})": r.coverage.served,
            "entity coverage": None if np.isnan(r.entity_coverage) else r.entity_coverage,
            "note": r.note,
        })
    return pd.DataFrame(rows)
