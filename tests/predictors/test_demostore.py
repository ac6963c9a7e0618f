import numpy as np

from allabel_core.vectors.embed import unit_rows
from allabel_core.predictors.base import DemoStore
from allabel_core.data.sentence import Sentence, Span


def _store(n, d=8, seed=0):
    rng = np.random.default_rng(seed)
    sents = [Sentence.from_text(f"d{i}", f"TiO2 sample {i}", [(0, 4, "MAT")]) for i in range(n)]
    return DemoStore(sents, unit_rows(rng.normal(size=(n, d)))), rng


def test_retrieve_best_first_and_exclude_keeps_k():
    store, rng = _store(6)
    pos, sims = store.retrieve(store.vectors[:2], 3)
    assert pos.shape == (2, 3) and pos[0, 0] == 0 and pos[1, 0] == 1
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    pos, _ = store.retrieve(store.vectors[:2], 3, exclude=["d0", "d1"])
    assert pos.shape == (2, 3)
    assert 0 not in pos[0] and 1 not in pos[1]


def test_exclude_of_an_id_not_in_the_store_still_returns_k():
    store, rng = _store(1)
    pos, _ = store.retrieve(store.vectors, 1, exclude=["elsewhere"])
    assert pos.tolist() == [[0]]
    pos, _ = store.retrieve(store.vectors, 1, exclude=["d0"])
    assert pos.shape == (1, 0)


def test_suggested_spans_never_become_demonstrations():
    s = Sentence.from_text("a", "TiO2 and ZnO", [Span(0, 4, "MAT", "TiO2", "confirmed"), Span(9, 12, "MAT", "ZnO", "suggested")])
    store = DemoStore([s], np.ones((1, 4), np.float32) / 2)
    assert [sp.text for sp in store.sentences[0].spans] == ["TiO2"]
