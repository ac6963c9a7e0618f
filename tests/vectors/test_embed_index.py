import numpy as np
import pytest

from allabel_core.vectors.embed import Embedder, VectorCache, unit_rows
from allabel_core.errors import DimensionError
from allabel_core.vectors.index import FaissIndex, NumpyIndex, build_index


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder(cache=VectorCache(tmp_path_factory.mktemp("emb") / "e.sqlite"))


def test_sentence_vectors_are_unit_float32_and_match_sentence_transformers(embedder):
    texts = ["LiFePO4 cathodes were coated with carbon.", "The band gap of TiO2 is 3.2 eV.", "Hello"]
    v = embedder.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    direct = embedder.model.encode(texts, normalize_embeddings=True)
    assert np.allclose(v, direct, atol=1e-5)


def test_cache_serves_second_call_without_the_model(embedder, monkeypatch):
    texts = ["A sentence only this test embeds.", "Another one, 𝛼-Fe2O3."]
    first = embedder.encode(texts)

    def boom(*a, **k):
        raise AssertionError("model called on a cache hit")

    monkeypatch.setattr(embedder.model, "encode", boom)
    assert np.array_equal(embedder.encode(texts), first)


def test_duplicates_and_progress(embedder):
    calls = []
    v = embedder.encode(["same text", "other text", "same text"], progress=lambda d, n: calls.append((d, n)))
    assert np.array_equal(v[0], v[2])
    assert calls[-1] == (3, 3)


def test_word_vectors_one_row_per_word_and_cached(embedder):
    words = [["Spin", "coating", "of", "CH3NH3PbI3", "films"], ["𝛼", "-", "Fe2O3"]]
    w = embedder.word_vectors(words)
    assert [x.shape for x in w] == [(5, 384), (3, 384)]
    assert np.allclose(np.linalg.norm(w[0], axis=1), 1, atol=1e-5)
    again = embedder.word_vectors(words)
    assert all(np.array_equal(a, b) for a, b in zip(w, again))
    # Context matters: the same word in another sentence gets another vector.
    other = embedder.word_vectors([["Annealed", "CH3NH3PbI3", "layers"]])[0]
    assert not np.allclose(other[1], w[0][3])


def test_vector_cache_round_trip(tmp_path):
    cache = VectorCache(tmp_path / "c.sqlite")
    cache.put_many({"k": np.arange(6, dtype=np.float32).reshape(2, 3)})
    got = cache.get_many(["k", "missing"], 3)
    assert list(got) == ["k"] and got["k"].shape == (2, 3)


@pytest.mark.parametrize("n, d, k", [(50, 8, 5), (300, 16, 10), (7, 4, 10)])
def test_faiss_matches_brute_force(n, d, k):
    rng = np.random.default_rng(n)
    x = unit_rows(rng.normal(size=(n, d)))
    q = unit_rows(rng.normal(size=(12, d)))
    ids = rng.permutation(1000)[:n]
    f_ids, f_sc = FaissIndex(d).build(x, ids).search(q, k)
    n_ids, n_sc = NumpyIndex(d).build(x, ids).search(q, k)
    assert np.array_equal(f_ids, n_ids)
    assert np.allclose(f_sc, n_sc, atol=1e-5)
    if k > n:
        assert (f_ids[:, n:] == -1).all() and np.isinf(f_sc[:, n:]).all()


def test_index_add_and_dimension_errors():
    idx = build_index(np.eye(3, dtype=np.float32))
    idx.add(np.array([[0, 0.6, 0.8]], np.float32), np.array([7]))
    ids, _ = idx.search(np.array([[0, 0.6, 0.8]], np.float32), 1)
    assert ids[0, 0] == 7 and len(idx) == 4
    with pytest.raises(DimensionError, match="4 dimensions"):
        idx.search(np.zeros((1, 4), np.float32), 1)
