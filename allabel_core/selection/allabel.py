"""ALLabel: diversity, then similarity, then uncertainty (Chen et al., EMNLP
2025, "ALLabel: Three-stage Active Learning for LLM-based Entity Recognition
using Demonstration Retrieval", arXiv 2509.07512).

The budget is split between the stages (default 1:3:1, always written
diversity:similarity:uncertainty) and the stages run in ``order`` (default
``"DSU"``), each starting from everything selected before it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .budget import DEFAULT_ORDER, check_pool, parse_order, parse_split, split_budget
from .context import SelectionContext
from .coreset import select_coreset
from .picks import Selection
from .similarity import coverage_lists, select_similarity
from .stages import get_stage
from .uncertainty import require_context, select_uncertainty


# What each stage takes of the ALLabel parameters (each function has its own defaults).
STAGE_PARAMS = {
    "diversity": ("seed", "candidates"),
    "similarity": ("k_cov", "discount", "index", "lists"),
    "uncertainty": ("shortlist_factor", "shortlist_by", "k_cov", "discount", "index", "lists"),
}


def run_stage(
    stage: str,
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    context: SelectionContext | None = None,
    **params,
) -> Selection:
    """Run one ALLabel stage (a name or letter from
    :data:`~.stages.STAGES`) for ``n`` picks: the one dispatcher used by
    :func:`select_allabel` and by a live project
    (:func:`allabel_core.project.tasks.run_stages`). ``params`` are those of
    :func:`select_allabel`; each stage gets the ones it takes
    (:data:`STAGE_PARAMS`: ``seed``, ``candidates`` for diversity; ``k_cov``,
    ``discount``, ``index`` for similarity and the uncertainty shortlist;
    ``shortlist_factor``, ``shortlist_by`` and ``context`` for uncertainty;
    ``lists``: coverage lists shared between stages)."""
    name = get_stage(stage).name
    known = {k for ks in STAGE_PARAMS.values() for k in ks}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"no stage takes {', '.join(unknown)} (options: {', '.join(sorted(known))})")
    kw = {k: params[k] for k in STAGE_PARAMS[name] if k in params}
    if name == "diversity":
        return select_coreset(pool_vectors, selected, n, rng=rng, **kw)
    if name == "similarity":
        return select_similarity(pool_vectors, selected, n, rng=rng, target_vectors=target_vectors, **kw)
    return select_uncertainty(pool_vectors, selected, n, rng=rng, context=context, target_vectors=target_vectors, **kw)


def select_allabel(
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    context: SelectionContext | None = None,
    split: str = "1:3:1",
    order: str = DEFAULT_ORDER,
    seed: str = "lowest-mean",
    candidates: str = "all",
    k_cov: int = 10,
    discount: float = 10.0,
    shortlist_factor: float = 5.0,
    shortlist_by: str = "coverage",
    index: str = "flat",
) -> Selection:
    """The three ALLabel stages in ``order`` with budget ``split``.

    ``pool_vectors``: ``(N, d)`` float32 unit rows; ``target_vectors``:
    ``(T, d)`` or ``None`` (the pool itself, as in a live session);
    ``selected``: already-annotated pool indices (non-empty: stage 1 skips
    its seed). ``context`` (pool sentences, predictor, annotate oracle) is
    needed only when the uncertainty stage gets a share. Stage parameters:
    ``seed``, ``candidates`` (diversity, see
    :func:`~allabel_core.selection.coreset.select_coreset`); ``k_cov``,
    ``discount``, ``index`` (similarity); ``shortlist_factor``,
    ``shortlist_by`` (uncertainty). Returns a :class:`Selection` of ``n``
    picks, each tagged with its stage.
    """
    pool, sel, target = check_pool(pool_vectors, selected, n, target_vectors)
    order = parse_order(order)
    weights = parse_split(split)
    quotas = split_budget(n, weights, order)
    params = {
        "split": ":".join(f"{w:g}" for w in weights),
        "order": order,
        "seed": seed,
        "candidates": candidates,
        "k_cov": int(k_cov),
        "discount": float(discount),
        "shortlist_factor": float(shortlist_factor),
        "shortlist_by": shortlist_by,
        "index": index,
        "quotas": quotas,
    }
    if quotas["U"]:
        require_context(context, len(pool), f"allabel with split {params['split']}")
    lists = None
    if (quotas["S"] or (quotas["U"] and shortlist_by == "coverage")) and n:
        lists = coverage_lists(pool, target, int(k_cov), index=index, rng=rng)
    out = Selection((), params)
    current = list(sel)
    for stage in order:
        q = quotas[stage]
        if not q:
            continue
        part = run_stage(
            stage, pool, current, q, rng=rng, target_vectors=target, context=context, seed=seed,
            candidates=candidates, k_cov=k_cov, discount=discount, shortlist_factor=shortlist_factor,
            shortlist_by=shortlist_by, index=index, lists=lists,
        )
        out = Selection(out.picks + part.picks, params)
        current.extend(p.index for p in part.picks)
    return out
