"""Demonstration entity coverage@k: what an LLM could copy from its prompt.

For a target sentence ``q`` with gold entities ``E(q)`` (distinct ``(text,
label)`` pairs) and the ``k`` demonstrations retrieved for it from the
annotated set, coverage is the share of ``E(q)`` that occurs among the
demonstrations' entities. Coverage@k of a selection is the mean over the
target sentences that have at least one entity (``macro``); ``micro`` pools
the entities of all of them. It needs no predictor and no LLM, only gold on
the target, so it compares selections for an LLM one does not have.

Entity texts are compared exactly (case and all): ``CO`` in a prompt does
not teach ``Co``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.sentence import TRUSTED, Sentence
from .retrievers import DEFAULT_RETRIEVER, as_config, make_retriever

DEFAULT_K = 5


def entity_set(sentence: Sentence) -> frozenset[tuple[str, str]]:
    """A sentence's distinct trusted (gold or confirmed) entities as ``(text, label)``."""
    return frozenset((sp.text, sp.label) for sp in sentence.spans_with(TRUSTED))


@dataclass(frozen=True)
class CoverageResult:
    """``macro``: mean per-sentence share; ``micro``: covered / all target
    entities; ``sentences``: target sentences with entities (the ones
    averaged); ``entities``: their distinct entities summed; ``per_sentence``:
    ``(T,)`` shares, NaN for sentences without entities; ``k`` and the
    retriever's ``params``."""

    macro: float
    micro: float
    sentences: int
    entities: int
    per_sentence: np.ndarray
    k: int
    params: dict

    def as_dict(self) -> dict:
        return {"coverage": self.macro, "coverage_micro": self.micro, "sentences": self.sentences,
                "entities": self.entities, "k": self.k, **self.params}


def coverage_of(target_entities: Sequence[frozenset], demo_entities: Sequence[frozenset], retrieved: np.ndarray) -> tuple[float, float, int, int, np.ndarray]:
    """Coverage from precomputed parts: per target its entity set, per
    demonstration its entity set, and ``retrieved`` ``(T, k)`` demonstration
    positions (-1 = none). Returns ``(macro, micro, sentences, entities,
    per_sentence)``."""
    shares = np.full(len(target_entities), np.nan)
    covered = total = 0
    for q, gold in enumerate(target_entities):
        if not gold:
            continue
        row = retrieved[q] if len(retrieved) else []
        seen = frozenset().union(*(demo_entities[int(p)] for p in row if p >= 0))
        hit = len(gold & seen)
        shares[q] = hit / len(gold)
        covered += hit
        total += len(gold)
    counted = int(np.count_nonzero(~np.isnan(shares)))
    macro = float(np.nanmean(shares)) if counted else float("nan")
    micro = covered / total if total else float("nan")
    return macro, micro, counted, total, shares


def demonstration_coverage(
    demos: Sequence[Sentence],
    targets: Sequence[Sentence],
    *,
    k: int = DEFAULT_K,
    retriever=DEFAULT_RETRIEVER,
    demo_vectors: np.ndarray | None = None,
    target_vectors: np.ndarray | None = None,
    embedder=None,
) -> CoverageResult:
    """Coverage@``k`` of ``targets`` (with gold) by the demonstrations
    ``demos`` (the annotated selection) under ``retriever`` (a name or a
    :class:`~.retrievers.RetrieverConfig`).

    A target sentence that is also a demonstration (same id) never
    retrieves itself. Vectors (``(n, d)`` float32 unit rows) are needed by
    ``dense`` and ``hybrid``: pass them, or an ``embedder`` to compute them.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    config = as_config(retriever)
    demos, targets = list(demos), list(targets)
    if config.name != "bm25":
        if demo_vectors is None:
            demo_vectors = embedder.encode([s.text for s in demos]) if demos else np.zeros((0, embedder.dim), np.float32)
        if target_vectors is None:
            target_vectors = embedder.encode([s.text for s in targets])
    target_entities = [entity_set(s) for s in targets]
    demo_entities = [entity_set(s) for s in demos]
    if demos:
        r = make_retriever(config, [s.text for s in demos], demo_vectors)
        ids, _ = r.search([s.text for s in targets], target_vectors, k + 1)
        demo_ids = np.asarray([s.id for s in demos], dtype=object)
        own = demo_ids[np.maximum(ids, 0)] == np.asarray([s.id for s in targets], dtype=object)[:, None]
        retrieved = _without(ids, own, k)
    else:
        retrieved = np.full((len(targets), k), -1, np.int64)
    macro, micro, counted, total, shares = coverage_of(target_entities, demo_entities, retrieved)
    return CoverageResult(macro, micro, counted, total, shares, int(k), config.params())


def _without(ids: np.ndarray, drop: np.ndarray, k: int) -> np.ndarray:
    """``ids`` rows without the entries marked in ``drop`` (and padding),
    order kept, cut or padded with -1 to ``k``."""
    out = np.full((len(ids), k), -1, np.int64)
    for q in range(len(ids)):
        row = ids[q][(ids[q] >= 0) & ~drop[q]][:k]
        out[q, : len(row)] = row
    return out
