"""Nearest-neighbour retrieval by inner product over unit vectors (cosine).

:class:`FaissIndex` is the implementation; :class:`NumpyIndex` is the same
contract in brute-force NumPy, used as the test oracle. Ids are the caller's
integers (pool row numbers, say); missing results are padded with id ``-1``
and score ``-inf``.
"""

from __future__ import annotations

import contextlib

from typing import Protocol

import numpy as np

from ..errors import DimensionError


class VectorIndex(Protocol):
    dim: int

    def build(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> VectorIndex: ...
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None: ...
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def __len__(self) -> int: ...


def _as_matrix(x: np.ndarray, dim: int | None, what: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise DimensionError(f"{what} must be a 2-D array (n, d), got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise DimensionError(f"{what} have {x.shape[1]} dimensions but the index holds {dim}-dimensional vectors")
    return x


def _as_ids(ids: np.ndarray | None, n: int, start: int = 0) -> np.ndarray:
    if ids is None:
        return np.arange(start, start + n, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if len(ids) != n:
        raise DimensionError(f"{len(ids)} ids for {n} vectors")
    return ids


class FaissIndex:
    """Exact inner-product search with faiss (``IndexFlatIP`` under an id map)."""

    def __init__(self, dim: int):
        import faiss

        self.dim = int(dim)
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def build(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> FaissIndex:
        self._index.reset()
        vectors = _as_matrix(vectors, self.dim, "vectors")
        self.add(vectors, _as_ids(ids, len(vectors)))
        return self

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors = _as_matrix(vectors, self.dim, "vectors")
        if len(vectors):
            self._index.add_with_ids(vectors, _as_ids(ids, len(vectors)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(ids, scores)``, both ``(n_queries, k)``, best first."""
        queries = _as_matrix(queries, self.dim, "queries")
        if k <= 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
        with _one_thread_if_small(len(queries) * len(self) * self.dim):
            scores, ids = self._index.search(queries, int(k))
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return ids.astype(np.int64), scores

    def __len__(self) -> int:
        return int(self._index.ntotal)


# Multiply-adds below which a search runs on one thread: waking OpenMP's
# threads costs more than such a search (a predictor's chunk of 256 queries
# against 200 demonstrations: 69 ms on all threads, 2.3 ms on one, with the
# two cores busy). About 0.1 s of work on one core.
ONE_THREAD_BELOW = 10**9


@contextlib.contextmanager
def _one_thread_if_small(work: int):
    import faiss

    if work >= ONE_THREAD_BELOW:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # the calling thread's setting, so other threads are not affected
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class NumpyIndex:
    """Brute-force inner-product search; the oracle for :class:`FaissIndex`."""

    def __init__(self, dim: int):
        self.dim = int(dim)
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._ids = np.zeros(0, np.int64)

    def build(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> NumpyIndex:
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._ids = np.zeros(0, np.int64)
        vectors = _as_matrix(vectors, self.dim, "vectors")
        self.add(vectors, _as_ids(ids, len(vectors)))
        return self

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors = _as_matrix(vectors, self.dim, "vectors")
        self._vectors = np.vstack([self._vectors, vectors])
        self._ids = np.concatenate([self._ids, _as_ids(ids, len(vectors))])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(queries, self.dim, "queries")
        nq, n = len(queries), len(self._ids)
        out_ids = np.full((nq, max(k, 0)), -1, np.int64)
        out_scores = np.full((nq, max(k, 0)), -np.inf, np.float32)
        if k <= 0 or n == 0:
            return out_ids, out_scores
        sims = queries @ self._vectors.T
        take = min(k, n)
        # Stable sort on negated scores: ties keep insertion order, as faiss does.
        order = np.argsort(-sims, axis=1, kind="stable")[:, :take]
        out_ids[:, :take] = self._ids[order]
        out_scores[:, :take] = np.take_along_axis(sims, order, axis=1)
        return out_ids, out_scores

    def __len__(self) -> int:
        return len(self._ids)


def build_index(vectors: np.ndarray, ids: np.ndarray | None = None, *, backend: str = "faiss") -> VectorIndex:
    """An index over ``vectors`` (``(n, d)`` float32, unit rows)."""
    vectors = _as_matrix(vectors, None, "vectors")
    cls = {"faiss": FaissIndex, "numpy": NumpyIndex}[backend]
    return cls(vectors.shape[1]).build(vectors, ids)
