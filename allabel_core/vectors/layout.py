"""A 2-D map of the pool: UMAP over sentence vectors, with faiss neighbours.

UMAP's own neighbour search (pynndescent) is the slow, numba-heavy part of a
first run; the exact neighbours come cheaply from faiss (inner product on unit
vectors), so they are passed in through ``precomputed_knn`` and UMAP only lays
out the graph (McInnes, Healy & Melville 2018, "UMAP: Uniform Manifold
Approximation and Projection").

Layouts are cached on disk under ``<cache_dir>/projections/``, keyed by a hash
of the vectors and every parameter, so a corpus is laid out once whichever
face (notebook, CLI, dashboard) asked first. The project store keeps its own
copy with the parameters (see :func:`stored_layout`).

numba compiles UMAP's layout code on first use in a process (tens of
seconds); :func:`warm_up` pays that once on tiny data so the first real map
does not.

Large pools (above :data:`EXACT_NEIGHBOURS_UP_TO` = 20,000 points,
:meth:`ProjectionParams.for_size`): exact neighbours cost N² dot products,
385 s at 100k × 384 on this project's 2 shared cores (load 5-7), against 5 s
at 20k. Above the threshold they come from faiss IVF (``4·√N`` lists,
:data:`IVF_PROBES` = 16 probed): 19 s at 100k with recall@15 1.00 on
clustered vectors. UMAP then runs
:data:`LARGE_EPOCHS` = 100 epochs instead of its default 200 for that size:
30-61 s instead of 95-134 s at 100k, and both keep the clusters apart
(every one of a point's 14 nearest points on the map is from its own
synthetic cluster, at 100 epochs as at 200). So a 100k map takes about a
minute instead of about 8.
Figures: ``benchmarks/bench_map_scale.py``; docs/scale.md.
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DimensionError
from .index import IVF_NPROBE, IvfIndex, build_index
from ..io.atomic import atomic_write_bytes
from ..jobs import Progress
from ..paths import cache_dir

"""Called as ``progress(done, total)``; step names are in ``*_STEPS``."""

PROJECT_STEPS = ("finding neighbours (faiss)", "laying out (UMAP)", "done")
WARM_UP_STEPS = ("importing UMAP", "compiling the layout code (numba, once per process)", "done")

# Below this many points UMAP's spectral initialisation and neighbour graph
# are degenerate; a PCA of the vectors shows the same thing honestly.
MIN_UMAP_POINTS = 8
# Up to this many points the neighbours are exact; above, faiss IVF (see the module docstring).
EXACT_NEIGHBOURS_UP_TO = 20_000
IVF_PROBES = IVF_NPROBE  # 16, as stage 2's lists
# UMAP's epochs above that size (its own default there is 200; see the module docstring).
LARGE_EPOCHS = 100


NEIGHBOURS = {"exact": "faiss-exact-ip", "ivf": "faiss-ivf-ip"}


@dataclass(frozen=True)
class ProjectionParams:
    """UMAP settings (McInnes et al. 2018 defaults, cosine metric).

    ``seed`` fixes UMAP's ``random_state``, which also makes it single-threaded:
    the same vectors and params give the same layout. ``neighbours``:
    ``"exact"`` (faiss flat inner product) or ``"ivf"`` (faiss IVF, see
    :func:`knn_graph`); :meth:`for_size` picks by the number of points.
    """

    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0
    n_epochs: int | None = None
    neighbours: str = "exact"

    def __post_init__(self):
        if self.neighbours not in NEIGHBOURS:
            raise ConfigError(f"unknown neighbour search {self.neighbours!r}; choose one of {', '.join(NEIGHBOURS)}")

    @classmethod
    def for_size(cls, n: int, **kw) -> ProjectionParams:
        """The settings for a map of ``n`` points: above
        :data:`EXACT_NEIGHBOURS_UP_TO` the neighbours come from faiss IVF
        and UMAP runs :data:`LARGE_EPOCHS` epochs (see the module docstring)."""
        if n > EXACT_NEIGHBOURS_UP_TO:
            kw = {"neighbours": "ivf", "n_epochs": LARGE_EPOCHS, **kw}
        return cls(**kw)

    def as_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "neighbours"}
        return {**out, "method": "umap", "neighbours": NEIGHBOURS[self.neighbours], "metric": "cosine"}


def knn_graph(vectors: np.ndarray, k: int, *, index: str = "exact", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of every row, itself first.

    ``vectors``: ``(n, d)`` float32, unit rows. ``index``: ``"exact"``
    (faiss flat inner product, N² dot products) or ``"ivf"``
    (:class:`~allabel_core.vectors.index.IvfIndex`: ``4·√N`` lists,
    :data:`IVF_PROBES` probed, trained on a sample drawn with ``seed``; rows
    it finds fewer than ``k`` for are searched exactly). Returns ``(indices, distances)``, both ``(n, k)``;
    distances are cosine distances ``1 - similarity`` clipped at 0, the form
    UMAP's ``precomputed_knn`` expects.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if index not in NEIGHBOURS:
        raise ConfigError(f"unknown neighbour search {index!r}; choose one of {', '.join(NEIGHBOURS)}")
    if index == "ivf":
        ids, sims = _ivf_knn(vectors, k, seed)
    else:
        ids, sims = build_index(vectors).search(vectors, k)
    # A duplicated sentence may outrank the row itself; UMAP wants self first.
    for i in np.flatnonzero(ids[:, 0] != np.arange(len(ids))):
        row = [j for j in ids[i] if j != i][: k - 1]
        ids[i] = [i, *row]
        sims[i] = [1.0, *(float(vectors[i] @ vectors[j]) for j in row)]
    dists = np.clip(1.0 - sims, 0.0, None).astype(np.float32)
    dists[:, 0] = 0.0
    return ids.astype(np.int64), dists


def _ivf_knn(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    index = IvfIndex(vectors.shape[1], nprobe=IVF_PROBES).build(vectors, rng=np.random.default_rng(seed))
    ids, sims = index.search_stored(k)
    short = np.flatnonzero((ids < 0).any(axis=1))
    if len(short):  # the probed lists held fewer than k rows: search those exactly
        ids[short], sims[short] = build_index(vectors).search(vectors[short], k)
    return ids.astype(np.int64), sims.astype(np.float32)


def _pca2(vectors: np.ndarray) -> np.ndarray:
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = np.zeros((n, 2), np.float32)
    width = min(2, vt.shape[0])
    xy[:, :width] = centred @ vt[:width].T
    # SVD signs are arbitrary: fix them so the layout is deterministic.
    for j in range(width):
        if xy[np.argmax(np.abs(xy[:, j])), j] < 0:
            xy[:, j] *= -1
    return xy


def _umap(vectors: np.ndarray, params: ProjectionParams, progress: Progress | None) -> np.ndarray:
    n = len(vectors)
    k = min(params.n_neighbors, n - 1)
    if progress:
        progress(0, 2)
    knn_ids, knn_dists = knn_graph(vectors, k, index=params.neighbours, seed=params.seed)
    if progress:
        progress(1, 2)
    import umap

    reducer = umap.UMAP(
        n_neighbors=k,
        n_components=2,
        metric="cosine",
        min_dist=params.min_dist,
        random_state=params.seed,
        n_epochs=params.n_epochs,
        precomputed_knn=(knn_ids, knn_dists, None),
        # Small graphs: a spectral start can fail on disconnected components.
        init="spectral" if n > 64 else "random",
    )
    with warnings.catch_warnings():
        # "n_jobs overridden by random_state" and "no search index": both expected.
        warnings.simplefilter("ignore")
        xy = reducer.fit_transform(vectors)
    if progress:
        progress(2, 2)
    return np.asarray(xy, dtype=np.float32)


def _key(vectors: np.ndarray, params: ProjectionParams) -> str:
    import umap

    h = hashlib.sha1()
    h.update(repr((vectors.shape, sorted(params.as_dict().items()), umap.__version__)).encode())
    h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return h.hexdigest()


def layout_2d(
    vectors: np.ndarray,
    params: ProjectionParams | None = None,
    *,
    cache: Path | bool | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """2-D coordinates for each row of ``vectors``.

    Args:
        vectors: ``(n, d)`` float32, unit rows (sentence embeddings).
        params: UMAP settings; default ``ProjectionParams.for_size(n)``.
        cache: a folder for cached layouts; ``None``/``True`` means
            ``<cache_dir>/projections``, ``False`` disables caching.
        progress: ``progress(done, total)`` over :data:`PROJECT_STEPS`.

    Returns ``(n, 2)`` float32. Fewer than :data:`MIN_UMAP_POINTS` rows are
    laid out by PCA instead (UMAP needs a neighbourhood to work with).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    params = params or ProjectionParams.for_size(len(vectors))
    if vectors.ndim != 2:
        raise DimensionError(f"vectors must be a 2-D array (n, d), got shape {vectors.shape}")
    if len(vectors) < MIN_UMAP_POINTS:
        if progress:
            progress(2, 2)
        return _pca2(vectors)
    folder = None if cache is False else Path(cache_dir() / "projections" if cache in (None, True) else cache)
    path = None
    if folder is not None:
        path = folder / f"{_key(vectors, params)}.npy"
        if path.exists():
            try:
                xy = np.load(path, allow_pickle=False)
                if xy.shape == (len(vectors), 2):
                    if progress:
                        progress(2, 2)
                    return xy.astype(np.float32, copy=False)
            except (OSError, ValueError):
                pass  # a torn or foreign file: recompute and overwrite it
    xy = _umap(vectors, params, progress)
    if path is not None:
        buf = io.BytesIO()
        np.save(buf, xy, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())  # a concurrent reader never sees half a file
    return xy


def warm_up(progress: Progress | None = None) -> float:
    """Compile UMAP's numba code on tiny data, so the first real map is fast.

    Runs the same path as :func:`project` (faiss neighbours, cosine, seeded)
    on 96 random points, uncached. Call it once per process (the dashboard
    does, from a ``st.cache_resource``); later calls are cheap but not free.
    ``progress(done, total)`` follows :data:`WARM_UP_STEPS`. Returns the
    seconds spent.
    """
    t0 = time.perf_counter()
    if progress:
        progress(0, 2)
    import umap  # noqa: F401  (the import alone takes seconds: numba, pynndescent)

    if progress:
        progress(1, 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    _umap(x, ProjectionParams(n_epochs=20), None)
    if progress:
        progress(2, 2)
    return time.perf_counter() - t0


def stored_layout(
    store,
    ids: Sequence[str],
    vectors: np.ndarray,
    params: ProjectionParams | None = None,
    *,
    progress: Progress | None = None,
) -> np.ndarray:
    """The project's map, computed once and kept in the project store.

    ``store`` offers ``projection() -> (ids, xy, params) | None`` and
    ``save_projection(ids, xy, params)``. A stored layout is reused when its
    ids and params match; otherwise it is computed (disk-cached by
    :func:`project`) and saved. Returns ``(len(ids), 2)`` float32 aligned with
    ``ids``.
    """
    ids = [str(i) for i in ids]
    params = params or ProjectionParams.for_size(len(ids))
    stored = store.projection()
    if stored is not None:
        s_ids, s_xy, s_params = stored
        if list(s_ids) == ids and dict(s_params or {}) == params.as_dict():
            return np.asarray(s_xy, dtype=np.float32)
    xy = layout_2d(vectors, params, progress=progress)
    store.save_projection(ids, xy, params.as_dict())
    return xy
