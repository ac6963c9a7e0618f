"""Stage 3, uncertainty: annotate what the predictor is least sure about.

Candidates are predicted with the current selected set as the demonstration
corpus (labels revealed only for selected sentences); the most uncertain are
taken. Predicting every candidate with an LLM is costly, so by default only a
shortlist of ``shortlist_factor × n`` candidates, drawn by stage-2 coverage
score, is predicted; each pick says so. The uncertainty is the predictor's
own (:attr:`Prediction.uncertainty`: kNN margin, perplexity or sample
disagreement); this is classic uncertainty sampling (Lewis & Gale 1994) in
one batch. With nothing selected yet (a cold start) there is nothing to
retrieve and no prediction is made: the shortlist's own order decides
(:func:`cold_start_picks`), and each pick says so.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ConfigError, PredictorError
from ..predictors.base import DemoStore
from ..retrieval import as_config
from .budget import check_pool
from .context import SelectionContext
from .picks import Pick, Selection
from .ranking import top_k
from .similarity import choose_index, coverage_lists, coverage_scores

SHORTLISTS = ("coverage", "random", "all")


def require_context(context: SelectionContext | None, n_pool: int, who: str) -> SelectionContext:
    if context is None or context.predictor is None:
        raise PredictorError(
            f"{who} needs a predictor and the pool sentences (uncertainty stage); "
            "give a corpus rather than bare vectors, or drop the stage (e.g. split 1:4:0)"
        )
    if len(context.sentences) != n_pool:
        raise PredictorError(f"{len(context.sentences)} pool sentences but {n_pool} pool vectors")
    return context


def select_uncertainty(
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    context: SelectionContext | None = None,
    target_vectors: np.ndarray | None = None,
    shortlist_factor: float = 5.0,
    shortlist_by: str = "coverage",
    k_cov: int = 10,
    discount: float = 10.0,
    index: str = "auto",
    retriever: str = "auto",
    rrf_k: float = 60.0,
    lists: np.ndarray | None = None,
    pool_texts=None,
    target_texts=None,
) -> Selection:
    """Stage 3 (uncertainty): the ``n`` most uncertain unselected sentences.

    ``pool_vectors``: ``(N, d)`` float32 unit rows (the demonstration
    vectors). ``context``: pool sentences, predictor and annotate oracle.
    ``shortlist_factor``: predict only ``ceil(factor × n)`` candidates
    (``0`` or ``shortlist_by="all"``: every unselected sentence).
    ``shortlist_by``: ``"coverage"`` (stage-2 score given the current
    selection; ``k_cov``, ``discount``, ``index``, ``retriever``,
    ``rrf_k``, ``lists`` as in
    :func:`~allabel_core.selection.similarity.select_similarity`; the pool's
    texts default to the context's sentences) or
    ``"random"``. Exact ties and failed predictions (ranked last) are broken
    in seeded random order. Returns a :class:`Selection` of ``n`` picks.
    """
    pool, sel, target = check_pool(pool_vectors, selected, n, target_vectors)
    if shortlist_by not in SHORTLISTS:
        raise ConfigError(f"unknown shortlist_by {shortlist_by!r}; choose one of {', '.join(SHORTLISTS)}")
    ctx = require_context(context, len(pool), "the uncertainty strategy")
    params = {"shortlist_factor": float(shortlist_factor), "shortlist_by": shortlist_by}
    if pool_texts is None:
        pool_texts = [sn.text for sn in ctx.sentences]
    config = as_config(retriever, rrf_k, texts=target is None or target_texts is not None)
    if shortlist_by == "coverage":
        index = choose_index(index, len(pool), None if target is None else len(target))
        params.update(k_cov=int(k_cov), discount=float(discount), index=index, **config.params())
    if n == 0:
        return Selection((), params)
    free = np.setdiff1d(np.arange(len(pool)), sel)
    size = len(free) if shortlist_by == "all" or not shortlist_factor else min(len(free), int(np.ceil(shortlist_factor * n)))
    if shortlist_by != "random" and (size < len(free) or not len(sel)):
        # The coverage order: the shortlist's source, and the cold start's ranking.
        if lists is None:
            lists = coverage_lists(pool, target, int(k_cov), index=index, rng=rng, retriever=config,
                                   pool_texts=pool_texts, target_texts=target_texts)
        scores = coverage_scores(pool, sel, target_vectors=target, k_cov=k_cov, discount=discount, lists=lists)
    if size >= len(free):
        short, how = free, f"all {len(free)} unselected sentences predicted"
        if not len(sel) and shortlist_by != "random":
            short = top_k(scores, len(free), rng, candidates=free)
    elif shortlist_by == "random":
        short = rng.choice(free, size=size, replace=False)
        short = np.sort(short) if len(sel) else short  # a cold start takes the draw's own order
        how = f"shortlist of {size} drawn at random"
    else:
        short = top_k(scores, size, rng, candidates=free)
        how = f"shortlist of {size} by stage-2 score ({shortlist_factor:g} × {n})"
    if not len(sel):
        return Selection(cold_start_picks(short, n, by="random" if shortlist_by == "random" else "coverage", how=how),
                         params)

    demos = DemoStore(ctx.labelled(sel), pool[sel])
    started = time.perf_counter()
    preds = ctx.predictor.predict(demos, [ctx.sentences[i] for i in short], progress=ctx.progress)
    ctx.predictor_seconds += time.perf_counter() - started
    if len(preds) != len(short):
        raise PredictorError(f"the predictor returned {len(preds)} predictions for {len(short)} sentences")
    unc = np.array([np.nan if p.error else float(p.uncertainty) for p in preds], dtype=np.float64)
    failed = int(np.isnan(unc).sum())
    order = top_k(unc, n, rng)
    kind = preds[0].uncertainty_kind if preds else ""
    note = f"{how}; {kind}" + (f"; {failed} predictions failed" if failed else "")
    picks = tuple(Pick(int(short[j]), "uncertainty", float(unc[j]), note=note) for j in order)
    return Selection(picks, params)


COLD_START = "cold start: no labels yet"


def cold_start_picks(shortlist: np.ndarray, n: int, *, by: str = "coverage", how: str = "") -> tuple[Pick, ...]:
    """Stage 3 before any label: with no demonstrations to retrieve, a
    predictor's uncertainty says nothing about retrieval, so the first ``n``
    of the shortlist are taken in its own order (``by``: ``"coverage"``,
    stage-2 score best first, or ``"random"``). No prediction is made; each
    pick's score is NaN and its note starts with :data:`COLD_START`.
    """
    what = "by coverage" if by == "coverage" else "at random"
    note = f"{COLD_START} — picked within the shortlist {what}" + (f" ({how})" if how else "")
    return tuple(Pick(int(i), "uncertainty", float("nan"), note=note) for i in shortlist[:n])
