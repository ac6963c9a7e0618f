"""Stage 2, similarity: pick the sentences retrieval will pull for the target.

For each target sentence ``q``, rank pool candidates with the retriever the
predictor will use (``hybrid`` by default where the sentences' text is given,
``dense`` cosine for bare vectors, or ``bm25``; see :mod:`allabel_core.retrieval`)
and keep the top ``k_cov``; a candidate earns ``k_cov − rank + 1`` points from
every target that lists it. Candidates are taken greedily by points; once a
target has a selected neighbour its points are divided by ``discount``
(default 10, as in Vote-k: Su et al. 2023, "Selective Annotation Makes
Language Models Better Few-Shot Learners"), so the next picks serve targets
not yet served.

When the target is the pool itself (a live session), a sentence never lists
itself, and selecting a sentence also serves it as a target (it is annotated,
so it needs no demonstrations).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..retrieval import as_config, make_retriever
from ..vectors.index import IVF_NPROBE, SEARCH_CHUNK, IvfIndex, build_index
from .budget import check_pool
from .picks import Pick, Selection
from .ranking import argmax_with_ties, tie_order

INDEXES = ("auto", "flat", "ivf")
# index="auto" searches exactly up to this many rows (the pool as its own
# target), approximately (IVF) from here on: exact lists cost N² products,
# minutes at 100k rows on two cores and hours at 1M (docs/scale.md).
IVF_THRESHOLD = 100_000


def choose_index(index: str, n_pool: int, n_queries: int | None = None, *, threshold: int = IVF_THRESHOLD) -> str:
    """``"flat"`` or ``"ivf"``: ``index`` itself, or for ``"auto"`` the one
    its size calls for. ``n_queries``: the target's size (``None``: the
    pool is its own target). ``"auto"`` takes IVF when the exact search
    would compute at least ``threshold²`` products (queries × pool rows),
    that is from ``threshold`` rows on when the pool is its own target."""
    if index not in INDEXES:
        raise ConfigError(f"unknown index {index!r}; choose one of {', '.join(INDEXES)}")
    if index != "auto":
        return index
    queries = n_pool if n_queries is None else n_queries
    return "ivf" if queries * n_pool >= threshold * threshold else "flat"


def coverage_lists(
    pool: np.ndarray,
    target: np.ndarray | None,
    k: int,
    *,
    index: str = "auto",
    rng: np.random.Generator | None = None,
    nprobe: int = IVF_NPROBE,
    retriever="auto",
    pool_texts=None,
    target_texts=None,
    ivf_threshold: int = IVF_THRESHOLD,
    chunk: int = SEARCH_CHUNK,
) -> np.ndarray:
    """Per target, its ``k`` most similar pool rows, best first.

    ``pool``: ``(N, d)`` float32 unit rows; ``target``: ``(T, d)`` or
    ``None`` for the pool itself (each row then never lists itself).
    ``retriever``: ``"dense"`` (cosine), ``"bm25"``, ``"hybrid"`` (a name
    or a :class:`~allabel_core.retrieval.RetrieverConfig`), or ``"auto"``
    (hybrid when the texts are given, else dense); bm25 and hybrid need
    ``pool_texts`` (and ``target_texts`` when there is a target), and BM25
    lists only pool rows sharing a term with the target.
    ``index`` (the dense search, alone or as hybrid's half): ``"flat"`` (exact faiss inner product),
    ``"ivf"`` (approximate: :class:`~allabel_core.vectors.index.IvfIndex`,
    faiss IVF with ``4·√N`` lists, ``nprobe`` probed, trained on a sample
    drawn with ``rng``) or ``"auto"`` (:func:`choose_index` with
    ``ivf_threshold``: exact below 100,000 rows). Queries are searched
    ``chunk`` rows at a time, so only ``(chunk, k)`` results are in flight;
    the lists do not depend on ``chunk``. Returns ``(T, k)`` int64, padded
    with -1 when fewer than ``k`` are found.
    """
    if k < 1:
        raise ConfigError(f"k_cov must be at least 1, got {k}")
    if chunk < 1:
        raise ConfigError(f"chunk must be at least 1, got {chunk}")
    self_target = target is None
    index = choose_index(index, len(pool), None if self_target else len(target), threshold=ivf_threshold)
    config = as_config(retriever, texts=_have_texts(pool_texts, target_texts, self_target))
    queries = pool if self_target else target
    want = min(k + (1 if self_target else 0), len(pool))
    if config.name != "dense":
        if pool_texts is None or (not self_target and target_texts is None):
            raise ConfigError(f"the {config.name} retriever needs the sentences' text for the coverage lists")
        query_texts = pool_texts if self_target else target_texts
        r = make_retriever(config, list(pool_texts), pool, index=index, nprobe=nprobe, rng=rng)
        ids, _ = r.search(list(query_texts), queries, want)
    elif index == "flat":
        flat = build_index(pool)
        ids = np.empty((len(queries), want), np.int64)
        for a in range(0, len(queries), chunk):
            ids[a : a + chunk] = flat.search(queries[a : a + chunk], want)[0]
        del flat
    else:
        ivf = IvfIndex(pool.shape[1], nprobe=nprobe, chunk=chunk).build(pool, rng=rng or np.random.default_rng(0))
        ids = ivf.search_stored(want)[0] if self_target else ivf.search(queries, want)[0]
        del ivf
    if self_target:
        return _drop_own(ids, k)
    if ids.shape[1] < k:
        ids = np.hstack([ids, np.full((len(ids), k - ids.shape[1]), -1, np.int64)])
    return ids


def _drop_own(ids: np.ndarray, k: int) -> np.ndarray:
    """Drop each row's own id from its list (wherever it ranked), keep the
    order of the rest, cut or pad (-1) to ``k``."""
    keep = ids != np.arange(len(ids))[:, None]
    # A stable sort of "dropped?" moves the kept entries to the front in order.
    order = np.argsort(~keep, axis=1, kind="stable")
    out = np.take_along_axis(np.where(keep, ids, -1), order, axis=1)[:, :k]
    if out.shape[1] < k:
        out = np.hstack([out, np.full((len(out), k - out.shape[1]), -1, np.int64)])
    return np.ascontiguousarray(out)


def _have_texts(pool_texts, target_texts, self_target: bool) -> bool:
    return pool_texts is not None and (self_target or target_texts is not None)


class Coverage:
    """Greedy coverage state: rank points per candidate, and which targets
    are already served.

    Scores are kept in units of ``1/discount`` so that, for an integer
    discount, they are exact integers and ties are real ties.
    """

    def __init__(self, lists: np.ndarray, n_pool: int, discount: float = 10.0, *, self_target: bool = False):
        if not discount >= 1:
            raise ConfigError(f"discount must be at least 1, got {discount}")
        self.lists = np.asarray(lists, dtype=np.int64)
        self.k = self.lists.shape[1]
        self.discount = float(discount)
        self.self_target = self_target
        self.points = np.arange(self.k, 0, -1, dtype=np.float64)  # k_cov − rank + 1
        valid = self.lists >= 0
        self.scores = np.zeros(n_pool)
        cols = np.broadcast_to(self.points, self.lists.shape)
        np.add.at(self.scores, self.lists[valid], cols[valid] * self.discount)
        self.served = np.zeros(len(self.lists), dtype=bool)
        flat = self.lists.ravel()
        order = np.argsort(flat, kind="stable")
        self._targets = (order // self.k)[flat[order] >= 0]
        self._starts = np.searchsorted(flat[order][flat[order] >= 0], np.arange(n_pool + 1))

    def targets_of(self, c: int) -> np.ndarray:
        """Targets whose top-``k_cov`` list holds pool row ``c``."""
        return self._targets[self._starts[c] : self._starts[c + 1]]

    def serve(self, c: int) -> int:
        """Record that pool row ``c`` is selected; returns how many targets it newly serves."""
        ts = self.targets_of(c)
        if self.self_target and c < len(self.lists):
            ts = np.append(ts, c)
        ts = np.unique(ts[~self.served[ts]])
        if len(ts):
            self.served[ts] = True
            rows = self.lists[ts]
            valid = rows >= 0
            pts = np.broadcast_to(self.points, rows.shape)
            np.subtract.at(self.scores, rows[valid], pts[valid] * (self.discount - 1.0))
        return int(len(ts))

    def points_of(self, c: int) -> float:
        """Row ``c``'s score in rank points (discounted targets count 1/discount)."""
        return float(self.scores[c] / self.discount)


def coverage_scores(
    pool_vectors: np.ndarray,
    selected,
    *,
    target_vectors: np.ndarray | None = None,
    k_cov: int = 10,
    discount: float = 10.0,
    index: str = "auto",
    rng: np.random.Generator | None = None,
    lists: np.ndarray | None = None,
    retriever="auto",
    pool_texts=None,
    target_texts=None,
) -> np.ndarray:
    """Stage-2 scores of every pool row given what is already selected.

    Returns ``(N,)`` float64 rank points (targets already served by
    ``selected`` count ``1/discount``). Selected rows keep their score; mask
    them yourself. ``lists``: precomputed :func:`coverage_lists` (else built).
    """
    pool, sel, target = check_pool(pool_vectors, selected, 0, target_vectors)
    if lists is None:
        lists = coverage_lists(pool, target, k_cov, index=index, rng=rng, retriever=retriever,
                               pool_texts=pool_texts, target_texts=target_texts)
    cov = Coverage(lists, len(pool), discount, self_target=target is None)
    for c in sel:
        cov.serve(int(c))
    return cov.scores / cov.discount


def select_similarity(
    pool_vectors: np.ndarray,
    selected,
    n: int,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    k_cov: int = 10,
    discount: float = 10.0,
    index: str = "auto",
    retriever: str = "auto",
    rrf_k: float = 60.0,
    lists: np.ndarray | None = None,
    pool_texts=None,
    target_texts=None,
) -> Selection:
    """Stage 2 (similarity): greedy retrieval coverage of the target set.

    ``pool_vectors``: ``(N, d)`` float32 unit rows; ``target_vectors``:
    ``(T, d)`` or ``None`` (the pool itself). ``selected``: pool indices
    already annotated (the targets they serve start discounted). ``k_cov``:
    list length per target; ``discount``: divisor for served targets;
    ``index``: ``"flat"`` (exact), ``"ivf"`` (approximate, for very large
    pools) or ``"auto"`` (IVF from 100,000 rows on, see :func:`choose_index`;
    the dense search, alone or as hybrid's half; the params record which
    one ran, bm25 ignores it). ``retriever``: ``"dense"``, ``"bm25"``,
    ``"hybrid"`` (``rrf_k`` its fusion constant) or ``"auto"`` (hybrid when
    ``pool_texts`` / ``target_texts``, the sentences' text, are given, else
    dense; bm25 and hybrid need them). Exact ties of score are broken in
    seeded random order (``rng``).
    ``lists``: precomputed :func:`coverage_lists` for this pool and target
    (so stages sharing them compute them once). Returns a
    :class:`Selection` of ``n`` picks.
    """
    pool, sel, target = check_pool(pool_vectors, selected, n, target_vectors)
    config = as_config(retriever, rrf_k, texts=_have_texts(pool_texts, target_texts, target is None))
    index = choose_index(index, len(pool), None if target is None else len(target))
    params = {"k_cov": int(k_cov), "discount": float(discount), "index": index, **config.params()}
    if n == 0:
        return Selection((), params)
    if lists is None:
        lists = coverage_lists(pool, target, int(k_cov), index=index, rng=rng, retriever=config,
                               pool_texts=pool_texts, target_texts=target_texts)
    cov = Coverage(lists, len(pool), discount, self_target=target is None)
    for c in sel:
        cov.serve(int(c))
    priority = tie_order(len(pool), rng)
    cov.scores[sel] = -np.inf  # selected rows are never picked; -inf absorbs later discounts
    picks = []
    approx = "; approximate IVF lists" if index == "ivf" and config.name == "dense" else ""
    if config.name != "dense":
        approx += f"; {config.name} lists"
    for _ in range(n):
        c = argmax_with_ties(cov.scores, priority)
        score = cov.points_of(c)
        cov.scores[c] = -np.inf
        served = cov.serve(c)
        if score > 0:
            note = f"newly serves {served} target sentences{approx}"
        else:
            note = "in no target's list any more: seeded random among zero scores"
        picks.append(Pick(c, "similarity", score, note=note))
    return Selection(tuple(picks), params)
