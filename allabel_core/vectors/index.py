"""Nearest-neighbour retrieval by inner product over unit vectors (cosine).

:class:`FaissIndex` is the exact implementation; :class:`NumpyIndex` is the
same contract in brute-force NumPy, used as the test oracle;
:class:`IvfIndex` is faiss's approximate inverted-file index, for pools too
large to search exactly. Ids are the caller's integers (pool row numbers,
say); missing results are padded with id ``-1`` and score ``-inf``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Protocol

import numpy as np

from ..errors import ConfigError, DimensionError


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


# IVF parameters (see IvfIndex): faiss's own guidance is 4·√N to 16·√N lists
# and at least 39 training rows per list (it warns below that).
IVF_LISTS_PER_SQRT_N = 4
IVF_TRAIN_PER_LIST = 39
IVF_NITER = 10
IVF_NPROBE = 16
SEARCH_CHUNK = 65_536


def ivf_nlist(n: int) -> int:
    """How many lists :class:`IvfIndex` cuts ``n`` rows into: ``4·√n``, at
    most ``n / 39`` (so every list has its 39 training rows), at least 1."""
    return max(1, min(int(IVF_LISTS_PER_SQRT_N * math.sqrt(n)), n // IVF_TRAIN_PER_LIST))


class IvfIndex:
    """Approximate inner-product search with faiss ``IndexIVFFlat``.

    The rows are cut into ``nlist`` cells (:func:`ivf_nlist`: ``4·√N``) by
    faiss k-means (``niter`` iterations, default 10, on ``39·nlist`` rows
    drawn with ``rng``) under an exact inner-product coarse quantiser; a
    query scans the ``nprobe`` cells whose centres are nearest to it. The
    vectors are stored uncompressed, so the scores of what is found are
    exact; only what is missed makes it approximate.

    Queries are searched in chunks of ``chunk`` rows, ordered by their
    nearest cell, so consecutive queries scan the same lists while those
    are still in the CPU cache (2.6× faster at 1M rows on this machine than
    in the given order). Each query's result depends on neither the order
    nor the chunk size. :meth:`search_stored` searches every stored row
    and reuses the cells faiss computed when adding them.
    """

    def __init__(self, dim: int, *, nlist: int | None = None, nprobe: int = IVF_NPROBE,
                 niter: int = IVF_NITER, chunk: int = SEARCH_CHUNK):
        if nprobe < 1 or chunk < 1 or niter < 1 or (nlist is not None and nlist < 1):
            raise ConfigError(f"IVF parameters must be positive: nlist={nlist}, nprobe={nprobe}, niter={niter}, chunk={chunk}")
        self.dim = int(dim)
        self.nlist = nlist
        self.nprobe = int(nprobe)
        self.niter = int(niter)
        self.chunk = int(chunk)
        self._index = None
        self._stored = np.zeros((0, self.dim), np.float32)
        self._cells = np.zeros((0, 0), np.int64)
        self._cell_scores = np.zeros((0, 0), np.float32)

    def build(self, vectors: np.ndarray, ids: np.ndarray | None = None, *, rng: np.random.Generator | None = None) -> IvfIndex:
        """Train on a sample of ``vectors`` (drawn with ``rng``) and add them all."""
        import faiss

        vectors = _as_matrix(vectors, self.dim, "vectors")
        n = len(vectors)
        if n == 0:
            raise DimensionError("an IVF index needs at least one vector to train on")
        nlist = min(self.nlist or ivf_nlist(n), n)
        rng = rng or np.random.default_rng(0)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = self.niter
        index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST  # faiss samples no further
        take = min(n, nlist * IVF_TRAIN_PER_LIST)
        sample = vectors if take == n else vectors[np.sort(rng.choice(n, size=take, replace=False))]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = min(self.nprobe, nlist)
        self._stored = np.zeros((0, self.dim), np.float32)
        self._index = index
        self.nlist = nlist
        self.add(vectors, _as_ids(ids, n))
        return self

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add rows to the trained cells (their centres stay as trained)."""
        import faiss

        if self._index is None:
            raise DimensionError("the IVF index is not trained: build it first")
        vectors = _as_matrix(vectors, self.dim, "vectors")
        ids = _as_ids(ids, len(vectors))
        if not len(vectors):
            return
        # Each row's nprobe nearest cells: the first is where it is stored, all
        # of them are where search_stored looks for its neighbours.
        cells, cell_scores = self._coarse(self._index, vectors)
        for a in range(0, len(vectors), self.chunk):
            b = min(a + self.chunk, len(vectors))
            part, assign = np.ascontiguousarray(vectors[a:b]), np.ascontiguousarray(cells[a:b, 0])
            self._index.add_core(b - a, faiss.swig_ptr(part), faiss.swig_ptr(ids[a:b]), faiss.swig_ptr(assign))
        first = not len(self._stored)
        self._stored = vectors if first else np.vstack([self._stored, vectors])
        self._cells = cells if first else np.vstack([self._cells, cells])
        self._cell_scores = cell_scores if first else np.vstack([self._cell_scores, cell_scores])

    def _coarse(self, index, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cells = np.empty((len(queries), index.nprobe), np.int64)
        scores = np.empty((len(queries), index.nprobe), np.float32)
        for a in range(0, len(queries), self.chunk):
            scores[a : a + self.chunk], cells[a : a + self.chunk] = index.quantizer.search(queries[a : a + self.chunk], index.nprobe)
        return cells, scores

    def _search(self, queries: np.ndarray, k: int, cells: np.ndarray, cell_scores: np.ndarray):
        nq = len(queries)
        ids = np.full((nq, max(k, 0)), -1, np.int64)
        scores = np.full((nq, max(k, 0)), -np.inf, np.float32)
        if k <= 0 or nq == 0:
            return ids, scores
        order = np.argsort(cells[:, 0], kind="stable")
        for a in range(0, nq, self.chunk):
            rows = order[a : a + self.chunk]
            d, i = self._index.search_preassigned(queries[rows], int(k), cells[rows], cell_scores[rows])
            ids[rows] = i
            scores[rows] = np.where(i < 0, -np.inf, d)
        return ids, scores

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(ids, scores)``, both ``(n_queries, k)``, best first."""
        if self._index is None:
            raise DimensionError("the IVF index is empty: build it first")
        queries = _as_matrix(queries, self.dim, "queries")
        cells, cell_scores = self._coarse(self._index, queries)
        return self._search(queries, k, cells, cell_scores)

    def search_stored(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` with every stored row as a query, in row order."""
        if self._index is None:
            raise DimensionError("the IVF index is empty: build it first")
        return self._search(self._stored, k, self._cells, self._cell_scores)

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)


def build_index(vectors: np.ndarray, ids: np.ndarray | None = None, *, backend: str = "faiss") -> VectorIndex:
    """An index over ``vectors`` (``(n, d)`` float32, unit rows)."""
    vectors = _as_matrix(vectors, None, "vectors")
    cls = {"faiss": FaissIndex, "numpy": NumpyIndex}[backend]
    return cls(vectors.shape[1]).build(vectors, ids)
