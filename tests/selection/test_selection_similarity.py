"""Stage 2 against brute force: neighbour lists, rank-sum scores, discounting."""

import numpy as np
import pytest

from allabel_core.selection import Coverage, coverage_lists, coverage_scores, select_similarity
from fakes import random_vectors


def brute_lists(pool, target, k):
    self_target = target is None
    q = pool if self_target else target
    sims = q.astype(np.float64) @ pool.astype(np.float64).T
    if self_target:
        np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def brute_scores(lists, n_pool, selected, discount, self_target):
    k = lists.shape[1]
    scores = np.zeros(n_pool)
    for q, row in enumerate(lists):
        served = any(c in selected for c in row) or (self_target and q in selected)
        w = 1.0 / discount if served else 1.0
        for rank, c in enumerate(row, 1):
            if c >= 0:
                scores[c] += w * (k - rank + 1)
    return scores


@pytest.mark.parametrize("n, t, k", [(200, 50, 10), (80, 300, 5), (30, 30, 10)])
def test_faiss_lists_match_numpy(n, t, k):
    pool, target = random_vectors(n, 16, 1), random_vectors(t, 16, 2)
    assert np.array_equal(coverage_lists(pool, target, k), brute_lists(pool, target, k))
    own = coverage_lists(pool, None, k)
    assert np.array_equal(own, brute_lists(pool, None, k))
    assert not (own == np.arange(n)[:, None]).any()


def test_short_pool_lists_are_padded():
    pool = random_vectors(4, 8, 0)
    lists = coverage_lists(pool, random_vectors(3, 8, 1), 10)
    assert lists.shape == (3, 10) and (lists[:, 4:] == -1).all() and (lists[:, :4] >= 0).all()
    assert (coverage_lists(pool, None, 10)[:, 3:] == -1).all()


@pytest.mark.parametrize("self_target", [False, True])
@pytest.mark.parametrize("discount", [1.0, 10.0, 3.5])
def test_scores_match_brute_force(self_target, discount):
    pool, target = random_vectors(120, 16, 3), random_vectors(70, 16, 4)
    tv = None if self_target else target
    for selected in ([], [3, 50, 99]):
        got = coverage_scores(pool, selected, target_vectors=tv, k_cov=7, discount=discount)
        lists = brute_lists(pool, tv, 7)
        assert np.allclose(got, brute_scores(lists, 120, set(selected), discount, self_target))


@pytest.mark.parametrize("self_target", [False, True])
def test_greedy_picks_the_best_brute_force_score_each_time(self_target):
    pool, target = random_vectors(150, 16, 5), random_vectors(90, 16, 6)
    tv = None if self_target else target
    sel = select_similarity(pool, [7], 40, rng=np.random.default_rng(0), target_vectors=tv, k_cov=8, discount=10)
    lists = brute_lists(pool, tv, 8)
    chosen = {7}
    for p in sel.picks:
        scores = brute_scores(lists, 150, chosen, 10.0, self_target)
        scores[list(chosen)] = -np.inf
        assert p.score == pytest.approx(scores.max())
        assert scores[p.index] == pytest.approx(scores.max())
        chosen.add(p.index)


def test_discount_moves_picks_to_unserved_targets():
    # Two tight clusters of targets; pool candidates near each. Without a
    # discount the bigger cluster's candidates win every pick; with it the
    # second pick goes to the other cluster.
    rng = np.random.default_rng(0)
    a, b = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    def around(c, m, s):
        x = c + s * rng.standard_normal((m, 8)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    target = np.vstack([around(a, 30, 0.05), around(b, 10, 0.05)])
    pool = np.vstack([around(a, 5, 0.02), around(b, 5, 0.02)])
    flat = select_similarity(pool, [], 2, rng=rng, target_vectors=target, k_cov=5, discount=1)
    disc = select_similarity(pool, [], 2, rng=rng, target_vectors=target, k_cov=5, discount=10)
    assert all(p.index < 5 for p in flat.picks)
    assert disc.picks[0].index < 5 and disc.picks[1].index >= 5


def test_served_count_and_self_target():
    pool = random_vectors(40, 8, 1)
    cov = Coverage(coverage_lists(pool, None, 5), 40, 10, self_target=True)
    first = cov.serve(0)
    assert cov.served[0] and first == 1 + len(cov.targets_of(0))
    assert cov.serve(0) == 0


def test_ties_are_broken_by_seed_not_index():
    # Two targets with k_cov=1 list at most two rows; every later pick ties at
    # zero, and different seeds must spread over the tied rows.
    pool = random_vectors(30, 8, 2)
    target = random_vectors(2, 8, 3)
    thirds = set()
    for s in range(20):
        sel = select_similarity(pool, [], 3, rng=np.random.default_rng(s), target_vectors=target, k_cov=1)
        assert sel.picks[2].score == 0 and "random" in sel.picks[2].note
        thirds.add(sel.picks[2].index)
    assert len(thirds) > 5


def test_ivf_index_option_runs_and_is_noted():
    pool, target = random_vectors(2000, 16, 1), random_vectors(100, 16, 2)
    sel = select_similarity(pool, [], 10, rng=np.random.default_rng(0), target_vectors=target, index="ivf")
    assert len(sel) == 10 and "approximate" in sel.picks[0].note
    with pytest.raises(ValueError, match="unknown index"):
        select_similarity(pool, [], 10, rng=np.random.default_rng(0), index="hnsw")
