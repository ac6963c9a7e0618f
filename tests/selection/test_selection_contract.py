"""The contract every registered strategy keeps."""

import numpy as np
import pytest

from allabel_core.errors import AllabelError, BudgetError, ConfigError, EmptyPoolError
from allabel_core.selection import SelectionContext, Selection, run_strategy, strategy_names
from fakes import FakePredictor, make_sentences, random_vectors

N = 60


@pytest.fixture
def pool():
    return random_vectors(N, 16, seed=3)


def context(n=N):
    sents = make_sentences(n)
    return SelectionContext(sents, FakePredictor(), annotate=lambda idx: [sents[i] for i in idx])


def run(name, pool, selected, n, seed, **kw):
    n = len(pool) - len(selected) if name == "full" else n
    return run_strategy(name, pool, selected, n, rng=np.random.default_rng(seed), context=context(len(pool)), **kw)


@pytest.mark.parametrize("name", strategy_names())
@pytest.mark.parametrize("selected", [[], [5, 17, 40]])
def test_returns_n_unique_unselected(name, pool, selected):
    sel = run(name, pool, selected, 12, seed=0)
    assert isinstance(sel, Selection)
    idx = np.asarray(sel)
    expected = N - len(selected) if name == "full" else 12
    assert idx.dtype == np.int64 and len(idx) == expected == len(sel.picks)
    assert len(set(idx.tolist())) == len(idx)
    assert not set(idx.tolist()) & set(selected)
    assert idx.min() >= 0 and idx.max() < N
    assert all(p.stage for p in sel.picks)


@pytest.mark.parametrize("name", strategy_names())
def test_raises_on_exhausted_pool(name, pool):
    everything = list(range(N))
    with pytest.raises((EmptyPoolError, BudgetError)):
        run_strategy(name, pool, everything, 1, rng=np.random.default_rng(0), context=context())
    with pytest.raises(BudgetError):
        run_strategy(name, pool, list(range(N - 3)), 4, rng=np.random.default_rng(0), context=context())
    with pytest.raises(EmptyPoolError):
        run_strategy(name, np.zeros((0, 16), np.float32), [], 1, rng=np.random.default_rng(0), context=context(0))


@pytest.mark.parametrize("name", strategy_names())
def test_same_seed_same_result(name, pool):
    a = run(name, pool, [2], 15, seed=7)
    b = run(name, pool, [2], 15, seed=7)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert [p.score for p in a.picks] == pytest.approx([p.score for p in b.picks], nan_ok=True)


def test_random_differs_across_seeds(pool):
    a, b = run("random", pool, [], 15, seed=0), run("random", pool, [], 15, seed=1)
    assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_zero_budget_is_empty(pool):
    for name in strategy_names():
        if name != "full":
            assert len(run(name, pool, [], 0, seed=0)) == 0


def test_unknown_strategy_and_option_fail_clearly(pool):
    with pytest.raises(ConfigError, match="choose one of"):
        run_strategy("votek", pool, [], 3, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no option splt"):
        run_strategy("allabel", pool, [], 3, rng=np.random.default_rng(0), splt="1:1:1")


def test_wrong_target_dimension_is_typed(pool):
    for name in ("similarity", "allabel", "coreset", "random"):
        with pytest.raises(AllabelError, match="dimensions"):
            run_strategy(name, pool, [], 3, rng=np.random.default_rng(0), target_vectors=random_vectors(5, 8),
                         context=context())
