"""One interface for every way of finding similar sentences.

A retriever is built over a corpus (sentence texts and their unit vectors)
and answers ``search(texts, vectors, k) -> (ids, scores)``: per query, the
ids of the ``k`` best corpus rows, best first, padded with id -1 and score
-inf (see :mod:`allabel_core.index` for the same contract over vectors).

- ``dense``: cosine of MiniLM sentence vectors, with faiss: exact, or over
  an IVF index (:class:`~allabel_core.vectors.index.IvfIndex`) for corpora
  too large to search exactly (``index="ivf"``);
- ``bm25``: BM25 over science terms (:mod:`.bm25`, :mod:`.terms`), with bm25s;
- ``hybrid``: reciprocal-rank fusion (:mod:`.fusion`) of the two, each
  searched ``depth`` deep (default 100, at least ``k``).

Scores are each retriever's own: cosine, BM25 score, fused reciprocal
ranks; only their order is comparable across retrievers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from ..vectors.index import IVF_NPROBE, IvfIndex, build_index
from .bm25 import Bm25Retriever
from .fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from .terms import TERMS_VERSION
from .topk import pad_rows

RETRIEVERS = ("dense", "bm25", "hybrid")
DEFAULT_RETRIEVER = "hybrid"  # chosen on the dev splits: benchmarks/tune_retrieval.py
AUTO = "auto"  # DEFAULT_RETRIEVER where the sentences' text is at hand, dense for bare vectors
DESCRIPTIONS = {
    "dense": "MiniLM sentence vectors, cosine (faiss)",
    "bm25": "BM25 over science terms (bm25s)",
    "hybrid": "reciprocal-rank fusion of dense and BM25",
}


@dataclass(frozen=True)
class RetrieverConfig:
    """Which retriever and its constants. ``rrf_k``: the fusion constant
    ``c`` of ``hybrid``; ``depth``: how deep ``hybrid`` reads each list;
    ``k1``, ``b``: BM25's constants."""

    name: str = "dense"
    rrf_k: float = DEFAULT_RRF_K
    depth: int = 100
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if self.name not in RETRIEVERS:
            raise ConfigError(f"unknown retriever {self.name!r}; choose one of {', '.join(RETRIEVERS)}")
        if self.rrf_k < 0:
            raise ConfigError(f"the fusion constant rrf_k must not be negative, got {self.rrf_k}")
        if self.depth < 1:
            raise ConfigError(f"depth must be at least 1, got {self.depth}")

    def params(self) -> dict:
        """What a manifest records: the retriever and the constants it uses."""
        p = {"retriever": self.name}
        if self.name in ("bm25", "hybrid"):
            p.update(k1=self.k1, b=self.b, tokenizer=TERMS_VERSION)
        if self.name == "hybrid":
            p.update(rrf_k=self.rrf_k, depth=self.depth, fused="dense + bm25")
        if self.name in ("dense", "hybrid"):
            p["similarity"] = "cosine of unit sentence vectors"
        return p

    @property
    def needs_texts(self) -> bool:
        return self.name != "dense"

    def as_dict(self) -> dict:
        return asdict(self)


def as_config(retriever, rrf_k: float | None = None, *, texts: bool = True) -> RetrieverConfig:
    """A :class:`RetrieverConfig` from a name, a config, or None (dense).

    ``"auto"`` is :data:`DEFAULT_RETRIEVER` when ``texts`` (the sentences'
    text is at hand) and ``dense`` otherwise (bare vectors, e.g. a ``.npy``
    matrix); what it resolved to is what manifests record.
    """
    if isinstance(retriever, RetrieverConfig):
        return retriever if rrf_k is None else RetrieverConfig(**{**retriever.as_dict(), "rrf_k": float(rrf_k)})
    name = "dense" if retriever is None else str(retriever).strip().lower()
    if name == AUTO:
        name = DEFAULT_RETRIEVER if texts else "dense"
    return RetrieverConfig(name) if rrf_k is None else RetrieverConfig(name, rrf_k=float(rrf_k))


class DenseRetriever:
    """Cosine search over unit sentence vectors (faiss).

    ``index``: ``"flat"`` (exact) or ``"ivf"`` (faiss IVF, ``nprobe`` cells
    probed, trained on a sample drawn with ``rng``: approximate, for
    corpora too large to search exactly; see :class:`IvfIndex`)."""

    name = "dense"

    def __init__(self, vectors: np.ndarray, *, index: str = "flat", nprobe: int = IVF_NPROBE,
                 rng: np.random.Generator | None = None):
        if index not in ("flat", "ivf"):
            raise ConfigError(f"unknown dense index {index!r}; choose flat or ivf")
        vectors = np.asarray(vectors, dtype=np.float32)
        self.n = len(vectors)
        if not self.n:
            self._index = None
        elif index == "flat":
            self._index = build_index(vectors)
        else:
            self._index = IvfIndex(vectors.shape[1], nprobe=nprobe).build(vectors, rng=rng or np.random.default_rng(0))

    def __len__(self) -> int:
        return self.n

    def search(self, texts, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.asarray(vectors, dtype=np.float32)
        nq = len(vectors)
        if self._index is None or k <= 0:
            return np.full((nq, max(k, 0)), -1, np.int64), np.full((nq, max(k, 0)), -np.inf, np.float32)
        ids, scores = self._index.search(vectors, min(k, self.n))
        if ids.shape[1] < k:
            pad = k - ids.shape[1]
            ids = np.hstack([ids, np.full((nq, pad), -1, np.int64)])
            scores = np.hstack([scores, np.full((nq, pad), -np.inf, np.float32)])
        return ids, scores


class HybridRetriever:
    """Reciprocal-rank fusion of :class:`DenseRetriever` and :class:`Bm25Retriever`."""

    name = "hybrid"

    def __init__(self, dense: DenseRetriever, bm25: Bm25Retriever, *, rrf_k: float = DEFAULT_RRF_K, depth: int = 100):
        self.dense, self.bm25 = dense, bm25
        self.rrf_k, self.depth = float(rrf_k), int(depth)
        self.n = len(dense)

    def __len__(self) -> int:
        return self.n

    def search(self, texts: Sequence[str], vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        depth = max(k, self.depth)
        d_ids, _ = self.dense.search(texts, vectors, min(depth, self.n) if self.n else depth)
        b_ids, _ = self.bm25.search(texts, None, depth)
        rows = [reciprocal_rank_fusion([d_ids[q], b_ids[q]], k, c=self.rrf_k) for q in range(len(texts))]
        return pad_rows(rows, len(texts), k)


def make_retriever(config, texts: Sequence[str] | None, vectors: np.ndarray | None, *, index: str = "flat",
                   nprobe: int = IVF_NPROBE, rng: np.random.Generator | None = None):
    """Build the retriever ``config`` names (a name or a
    :class:`RetrieverConfig`) over a corpus: ``texts`` (needed by ``bm25``
    and ``hybrid``) and ``vectors`` (``(n, d)`` float32 unit rows, needed by
    ``dense`` and ``hybrid``). ``index``, ``nprobe``, ``rng``: how the dense
    half searches (:class:`DenseRetriever`)."""
    config = as_config(config)
    if config.needs_texts and texts is None:
        raise ConfigError(
            f"the {config.name} retriever needs the sentences' text, and only vectors were given "
            "(a .npy matrix has no text): give a corpus file, or use --retriever dense"
        )
    if config.name != "bm25" and vectors is None:
        raise ConfigError(f"the {config.name} retriever needs sentence vectors")
    if texts is not None and vectors is not None and len(texts) != len(vectors):
        raise ConfigError(f"{len(texts)} texts but {len(vectors)} vectors for one corpus")
    if config.name == "dense":
        return DenseRetriever(vectors, index=index, nprobe=nprobe, rng=rng)
    bm25 = Bm25Retriever(list(texts), k1=config.k1, b=config.b)
    if config.name == "bm25":
        return bm25
    dense = DenseRetriever(vectors, index=index, nprobe=nprobe, rng=rng)
    return HybridRetriever(dense, bm25, rrf_k=config.rrf_k, depth=config.depth)
