"""IvfIndex: faiss IVF searched in cell order and in chunks, against faiss's
own search of the same trained index and against exact search."""

import numpy as np
import pytest

from allabel_core.errors import ConfigError, DimensionError
from allabel_core.vectors.index import IvfIndex, NumpyIndex, ivf_nlist


def unit(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_nlist_follows_the_documented_rule():
    assert ivf_nlist(1_000_000) == 4000 and ivf_nlist(100_000) == 1264
    assert ivf_nlist(3000) == 76  # capped so each list has 39 training rows
    assert ivf_nlist(10) == 1


def test_probing_every_cell_is_exact():
    x, q = unit(1500, 16, 0), unit(200, 16, 1)
    ivf = IvfIndex(16, nprobe=10_000, chunk=64).build(x, rng=np.random.default_rng(0))
    exact_ids, exact_scores = NumpyIndex(16).build(x).search(q, 7)
    ids, scores = ivf.search(q, 7)
    assert np.array_equal(ids, exact_ids) and np.allclose(scores, exact_scores, atol=1e-5)


def test_cell_ordered_chunked_search_equals_faiss_search():
    # Reordering queries by cell and cutting them into chunks changes no
    # query's result: compare with faiss's own search of the same index.
    x = unit(3000, 16, 2)
    ids_of_rows = np.arange(3000, dtype=np.int64) * 3 + 5  # caller's ids, not row numbers
    ivf = IvfIndex(16, nprobe=4, chunk=101).build(x, ids_of_rows, rng=np.random.default_rng(0))
    d_ref, i_ref = ivf._index.search(x, 9)
    ids, scores = ivf.search_stored(9)
    assert np.array_equal(ids, i_ref) and np.array_equal(scores, d_ref)
    q = unit(500, 16, 3)
    d_ref, i_ref = ivf._index.search(q, 9)
    ids, scores = ivf.search(q, 9)
    assert np.array_equal(ids, i_ref) and np.array_equal(scores, d_ref)
    assert set(np.unique(ids)) <= set(ids_of_rows)


def test_added_rows_are_found_and_searched():
    x = unit(2000, 16, 4)
    ivf = IvfIndex(16, nprobe=8).build(x[:1500], rng=np.random.default_rng(0))
    ivf.add(x[1500:], np.arange(1500, 2000))
    assert len(ivf) == 2000
    ids, _ = ivf.search_stored(1)
    assert np.array_equal(ids[:, 0], np.arange(2000))  # each row's best match is itself
    assert np.array_equal(ids, ivf._index.search(x, 1)[1])


def test_short_results_are_padded_and_errors_are_clear():
    x = unit(50, 8, 5)
    ivf = IvfIndex(8, nlist=5, nprobe=1).build(x)
    ids, scores = ivf.search(x[:3], 40)
    assert ids.shape == (3, 40)
    assert ((ids < 0) == np.isneginf(scores)).all() and (ids < 0).any()
    with pytest.raises(DimensionError, match="have 4 dimensions but the index holds 8"):
        ivf.search(np.ones((2, 4), np.float32), 3)
    with pytest.raises(DimensionError, match="build it first"):
        IvfIndex(8).search(x, 3)
    with pytest.raises(DimensionError, match="at least one vector"):
        IvfIndex(8).build(np.zeros((0, 8), np.float32))
    with pytest.raises(ConfigError, match="nprobe=0"):
        IvfIndex(8, nprobe=0)
