"""How well a selection serves the sentences that need demonstrations.

Retrieval can only lend a target sentence demonstrations that resemble it:
a sentence whose most similar selected sentence is far away gets poor
examples whatever the LLM. Two measures, both plain functions over arrays:

- **similarity coverage**: each target sentence's highest cosine similarity
  to any selected sentence (:func:`nearest_selected`), and the share of the
  target at or above a threshold (:func:`similarity_coverage`);
- **entity coverage** (needs gold): whether a target sentence's entity
  mentions occur, same text and type, among the gold spans of the ``k``
  demonstrations retrieved for it (:func:`entity_coverage`), in the spirit
  of GPT-NER's observation that demonstrations sharing the query's entities
  help most (Wang et al. 2023).

The map's "gaps" view colours the pool by the first; the "compare" view
reports both for each strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DimensionError
from ..vectors.index import build_index

# Cosine similarity (all-MiniLM-L6-v2) at which a selected sentence counts as
# a demonstration of the same kind of statement. Measured on the sample data:
# a test sentence's nearest pool sentence has median similarity 0.49 (the
# whole pool selected); with 10 % of the pool selected at random, 0.38.
SERVED_AT = 0.4


def _unit_rows(x, what: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise DimensionError(f"{what} must be a 2-D array (n, d), got shape {x.shape}")
    return x


def nearest_selected(vectors: np.ndarray, selected_vectors: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most similar selected rows, best first (exact faiss
    inner product on unit vectors).

    ``vectors``: ``(T, d)`` float32 unit rows; ``selected_vectors``: ``(S, d)``.
    Returns ``(similarities, positions)``, both ``(T, k)``: positions index
    ``selected_vectors``; missing neighbours (fewer than ``k`` selected) are
    ``-inf`` and ``-1``.
    """
    q = _unit_rows(vectors, "vectors")
    s = _unit_rows(selected_vectors, "selected vectors")
    if len(q) and len(s) and q.shape[1] != s.shape[1]:
        raise DimensionError(f"vectors have {q.shape[1]} dimensions but selected vectors {s.shape[1]}")
    if len(s) == 0 or len(q) == 0:
        return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
    pos, sims = build_index(s).search(q, min(k, len(s)))
    if pos.shape[1] < k:
        pad = k - pos.shape[1]
        pos = np.hstack([pos, np.full((len(q), pad), -1, np.int64)])
        sims = np.hstack([sims, np.full((len(q), pad), -np.inf, np.float32)])
    return sims.astype(np.float32), pos.astype(np.int64)


def pool_gaps(pool_vectors: np.ndarray, selected: Sequence[int]) -> np.ndarray:
    """Per pool row, its highest similarity to any selected row; a selected
    row serves itself (1.0: it is annotated and needs no demonstration).

    ``pool_vectors``: ``(N, d)`` float32 unit rows; ``selected``: pool
    indices. Returns ``(N,)`` float32, NaN everywhere when nothing is selected.
    """
    pool = _unit_rows(pool_vectors, "pool vectors")
    sel = np.unique(np.asarray(list(selected), dtype=np.int64))
    if len(sel) and (sel.min() < 0 or sel.max() >= len(pool)):
        raise DimensionError(f"selected indices must lie in [0, {len(pool)})")
    out = np.full(len(pool), np.nan, np.float32)
    if len(sel) == 0:
        return out
    sims, _ = nearest_selected(pool, pool[sel])
    out[:] = sims[:, 0]
    out[sel] = 1.0
    return out


@dataclass(frozen=True)
class SimilarityCoverage:
    """``mean``: mean highest similarity over the target; ``served``: share
    of the target at or above ``threshold``; ``sentences``: target size."""

    mean: float
    served: float
    threshold: float
    sentences: int


def similarity_coverage(best: np.ndarray, threshold: float = SERVED_AT) -> SimilarityCoverage:
    """Summarise highest similarities (``(T,)``, from :func:`nearest_selected`
    or :func:`pool_gaps`; NaN and ``-inf`` count as unserved)."""
    best = np.asarray(best, dtype=np.float64).ravel()
    if len(best) == 0:
        return SimilarityCoverage(float("nan"), float("nan"), float(threshold), 0)
    finite = np.where(np.isfinite(best), best, np.nan)
    mean = float(np.nanmean(finite)) if np.isfinite(finite).any() else float("nan")
    served = float(np.mean(np.nan_to_num(finite, nan=-np.inf) >= threshold))
    return SimilarityCoverage(mean, served, float(threshold), len(best))


def _mentions(spans) -> set[tuple[str, str]]:
    return {(sp.text.casefold(), sp.label) for sp in spans}


def entity_hits(target_spans: Sequence, demo_spans: Sequence, retrieved: np.ndarray) -> np.ndarray:
    """Per target sentence, the share of its entity mentions (text, compared
    case-insensitively, and type) that occur among the gold spans of its
    retrieved demonstrations.

    ``target_spans``: ``T`` span lists (gold); ``demo_spans``: ``S`` span
    lists of the selected sentences (gold); ``retrieved``: ``(T, k)``
    positions into ``demo_spans`` (-1 = none). Returns ``(T,)`` float64,
    NaN for a target without entities.
    """
    retrieved = np.asarray(retrieved, dtype=np.int64).reshape(len(target_spans), -1)
    demo_sets = [_mentions(s) for s in demo_spans]
    out = np.full(len(target_spans), np.nan)
    for t, spans in enumerate(target_spans):
        want = _mentions(spans)
        if not want:
            continue
        seen: set[tuple[str, str]] = set()
        for p in retrieved[t]:
            if p >= 0:
                seen |= demo_sets[p]
        out[t] = len(want & seen) / len(want)
    return out


def entity_coverage(target_spans: Sequence, demo_spans: Sequence, retrieved: np.ndarray) -> float:
    """Micro average of :func:`entity_hits`: the share of all target entity
    mentions found among their sentence's retrieved demonstrations (NaN
    when the target holds no entity)."""
    retrieved = np.asarray(retrieved, dtype=np.int64).reshape(len(target_spans), -1)
    demo_sets = [_mentions(s) for s in demo_spans]
    found = total = 0
    for t, spans in enumerate(target_spans):
        want = _mentions(spans)
        seen = set().union(*(demo_sets[p] for p in retrieved[t] if p >= 0)) if want else set()
        found += len(want & seen)
        total += len(want)
    return found / total if total else float("nan")
