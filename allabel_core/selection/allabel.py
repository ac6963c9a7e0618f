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
from ..retrieval import as_config
from .budget import DEFAULT_MIN_STAGE, DEFAULT_ORDER, check_pool, fold_small_stages, parse_order, parse_split, split_budget
from .context import SelectionContext
from .coreset import select_coreset
from .picks import Selection
from .similarity import choose_index, coverage_lists, select_similarity
from .stages import get_stage
from .uncertainty import require_context, select_uncertainty


# What each stage takes of the ALLabel parameters (each function has its own defaults).
STAGE_PARAMS = {
    "diversity": ("seed", "candidates"),
    "similarity": ("k_cov", "discount", "index", "lists", "retriever", "rrf_k", "pool_texts", "target_texts"),
    "uncertainty": ("shortlist_factor", "shortlist_by", "k_cov", "discount", "index", "lists", "retriever", "rrf_k",
                    "pool_texts", "target_texts"),
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
    ``discount``, ``index``, ``retriever``, ``rrf_k`` and the sentences'
    texts ``pool_texts`` / ``target_texts`` for similarity and the
    uncertainty shortlist; ``shortlist_factor``, ``shortlist_by`` and
    ``context`` for uncertainty; ``lists``: coverage lists shared between
    stages). Diversity always measures dense cosine."""
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
    min_stage: int = DEFAULT_MIN_STAGE,
    index: str = "auto",
    retriever: str = "auto",
    rrf_k: float = 60.0,
    pool_texts=None,
    target_texts=None,
) -> Selection:
    """The three ALLabel stages in ``order`` with budget ``split``.

    ``pool_vectors``: ``(N, d)`` float32 unit rows; ``target_vectors``:
    ``(T, d)`` or ``None`` (the pool itself, as in a live session);
    ``selected``: already-annotated pool indices (non-empty: stage 1 skips
    its seed). ``context`` (pool sentences, predictor, annotate oracle) is
    needed only when the uncertainty stage gets a share. Stage parameters:
    ``seed``, ``candidates`` (diversity, see
    :func:`~allabel_core.selection.coreset.select_coreset`); ``k_cov``,
    ``discount``, ``index``, ``retriever``, ``rrf_k`` (similarity, and the
    uncertainty stage's shortlist; ``index="auto"`` is exact below 100,000
    rows, IVF from there on, see
    :func:`~allabel_core.selection.similarity.choose_index`; ``bm25`` and ``hybrid`` need
    ``pool_texts`` / ``target_texts``, else the context's sentences serve
    as the pool's); ``shortlist_factor``, ``shortlist_by`` (uncertainty).
    ``min_stage``: a diversity or uncertainty quota smaller than this many
    sentences goes to the similarity stage instead
    (:func:`~.budget.fold_small_stages`).
    Stage 1 always measures dense cosine. Returns a :class:`Selection` of ``n``
    picks, each tagged with its stage.
    """
    pool, sel, target = check_pool(pool_vectors, selected, n, target_vectors)
    order = parse_order(order)
    weights = parse_split(split)
    quotas = fold_small_stages(split_budget(n, weights, order), int(min_stage))
    index = choose_index(index, len(pool), None if target is None else len(target))
    params = {
        "split": ":".join(f"{w:g}" for w in weights),
        "order": order,
        "seed": seed,
        "candidates": candidates,
        "k_cov": int(k_cov),
        "discount": float(discount),
        "shortlist_factor": float(shortlist_factor),
        "shortlist_by": shortlist_by,
        "min_stage": int(min_stage),
        "index": index,
        "quotas": quotas,
    }
    if pool_texts is None and context is not None:
        pool_texts = [s.text for s in context.sentences]
    # Resolved once ("auto" becomes what the texts at hand allow), so every stage uses the same one.
    retriever = as_config(retriever, rrf_k, texts=pool_texts is not None and (target is None or target_texts is not None))
    params.update(retriever.params())
    if quotas["U"]:
        require_context(context, len(pool), f"allabel with split {params['split']}")
    lists = None
    if (quotas["S"] or (quotas["U"] and shortlist_by == "coverage")) and n:
        lists = coverage_lists(pool, target, int(k_cov), index=index, rng=rng, retriever=retriever,
                               pool_texts=pool_texts, target_texts=target_texts)
    out = Selection((), params)
    current = list(sel)
    for stage in order:
        q = quotas[stage]
        if not q:
            continue
        part = run_stage(
            stage, pool, current, q, rng=rng, target_vectors=target, context=context, seed=seed,
            candidates=candidates, k_cov=k_cov, discount=discount, shortlist_factor=shortlist_factor,
            shortlist_by=shortlist_by, index=index, lists=lists, retriever=retriever, rrf_k=rrf_k,
            pool_texts=pool_texts, target_texts=target_texts,
        )
        out = Selection(out.picks + part.picks, params)
        current.extend(p.index for p in part.picks)
    return out
