"""Greedy k-center against a naive O(N²) oracle, and the seed rules."""

import numpy as np
import pytest

from allabel_core.selection import greedy_kcenter, mean_similarity, select_coreset
from fakes import random_vectors, unit


def naive_kcenter(pool, initial, n):
    """Full N×N similarity matrix in float64; argmin takes the lowest index."""
    sims = pool.astype(np.float64) @ pool.astype(np.float64).T
    maxsim = sims[:, initial].max(axis=1)
    maxsim[initial] = np.inf
    out = []
    for _ in range(n):
        p = int(np.argmin(maxsim))
        out.append((p, float(maxsim[p])))
        maxsim = np.maximum(maxsim, sims[:, p])
        maxsim[[q for q, _ in out]] = np.inf
    return out


def assert_same_picks(ours, ref, pool):
    """Identical picks, except that a divergence must be an exact tie (to float32 rounding)."""
    for t, ((p, _), (q, v)) in enumerate(zip(ours, ref)):
        if p != q:
            assert abs(ours[t][1] - v) < 1e-5, f"pick {t}: {p} vs {q} is not a tie"
            return
    assert len(ours) == len(ref)


@pytest.mark.parametrize("n, d, m, seed", [(300, 8, 60, 0), (500, 32, 120, 1), (1000, 64, 200, 2), (50, 4, 49, 3)])
@pytest.mark.parametrize("block, shortlist", [(1, 1), (4, 8), (16, 64), (256, 1024)])
def test_matches_naive_oracle(n, d, m, seed, block, shortlist):
    pool = random_vectors(n, d, seed)
    idx, scores, _ = greedy_kcenter(pool, np.array([0]), m, block=block, shortlist=shortlist)
    assert_same_picks(list(zip(idx.tolist(), scores.tolist())), naive_kcenter(pool, [0], m), pool)
    assert_valid_greedy(pool, [0], idx.tolist(), scores.tolist())


def assert_valid_greedy(pool, initial, picks, scores):
    """Each pick has the lowest highest-similarity to the picks before it
    (to float32 rounding), and its reported score is that similarity."""
    sims = pool.astype(np.float64) @ pool.astype(np.float64).T
    chosen = list(initial)
    for p, score in zip(picks, scores):
        maxsim = sims[:, chosen].max(axis=1)
        maxsim[chosen] = np.inf
        assert maxsim[p] <= maxsim.min() + 1e-6
        assert score == pytest.approx(maxsim[p], abs=1e-5)
        chosen.append(p)


def test_exact_ties_are_valid_greedy_choices():
    # Duplicated rows create ties everywhere; float32 GEMM tiles may round the
    # same product differently, so a tie may go either way, but never to a worse row.
    base = random_vectors(20, 6, seed=5)
    pool = np.vstack([base, base, base])
    for block, shortlist in [(1, 1), (3, 5), (64, 256)]:
        idx, scores, _ = greedy_kcenter(pool, np.array([7]), 25, block=block, shortlist=shortlist)
        assert len(set(idx.tolist())) == 25
        assert_valid_greedy(pool, [7], idx.tolist(), scores.tolist())


def test_nearest_is_the_most_similar_selected_row():
    pool = random_vectors(400, 16, seed=4)
    sel = select_coreset(pool, [], 40, rng=np.random.default_rng(0), block=8, shortlist=16)
    chosen = [sel.picks[0].index]
    for p in sel.picks[1:]:
        sims = pool[chosen] @ pool[p.index]
        assert p.nearest == chosen[int(np.argmax(sims))]
        assert p.nearest_similarity == pytest.approx(float(sims.max()), abs=1e-5)
        assert p.score == p.nearest_similarity
        chosen.append(p.index)


def test_mean_similarity_is_linear_time_identity():
    pool = random_vectors(200, 12, seed=1)
    sims = pool.astype(np.float64) @ pool.astype(np.float64).T
    brute = (sims.sum(axis=1) - np.diag(sims)) / (len(pool) - 1)
    assert np.allclose(mean_similarity(pool), brute, atol=1e-6)
    assert mean_similarity(pool[:1]).tolist() == [0.0]


def test_seed_is_lowest_mean_similarity_and_resume_skips_it():
    pool = random_vectors(300, 16, seed=2)
    sel = select_coreset(pool, [], 10, rng=np.random.default_rng(0))
    first = sel.picks[0]
    assert first.index == int(np.argmin(mean_similarity(pool)))
    assert "seed" in first.note and first.nearest is None
    resumed = select_coreset(pool, [11, 12], 10, rng=np.random.default_rng(0))
    assert all("seed" not in p.note for p in resumed.picks)
    assert resumed.picks[0].index == naive_kcenter(pool, [11, 12], 1)[0][0]


def test_seed_variants():
    pool = random_vectors(300, 16, seed=2)
    high = select_coreset(pool, [], 5, rng=np.random.default_rng(0), seed="highest-mean")
    assert high.picks[0].index == int(np.argmax(mean_similarity(pool)))
    r1 = select_coreset(pool, [], 5, rng=np.random.default_rng(1), seed="random")
    r2 = select_coreset(pool, [], 5, rng=np.random.default_rng(2), seed="random")
    assert r1.picks[0].index != r2.picks[0].index
    with pytest.raises(ValueError, match="seed rule"):
        select_coreset(pool, [], 5, rng=np.random.default_rng(0), seed="central")


def test_inliers_never_picks_outliers():
    rng = np.random.default_rng(0)
    centre = unit(rng.standard_normal((1, 16)))
    pool = unit(centre + 0.3 * rng.standard_normal((200, 16)))
    means = mean_similarity(pool)
    outliers = set(np.flatnonzero(means < np.quantile(means, 0.1)).tolist())
    plain = select_coreset(pool, [], 30, rng=rng)
    inl = select_coreset(pool, [], 30, rng=rng, candidates="inliers")
    assert set(np.asarray(plain).tolist()) & outliers  # plain k-center does reach for them
    assert not set(np.asarray(inl).tolist()) & outliers
    # Too few inliers left: falls back to every row, and says so.
    big = select_coreset(pool, [], 195, rng=rng, candidates="inliers")
    assert len(big) == 195 and "all rows eligible" in big.picks[-1].note


def test_memory_is_linear(monkeypatch):
    """No N×N matrix: every GEMM tile is at most (rows, block)."""
    import allabel_core.selection.coreset as cs

    shapes = []
    real = cs._tile

    def spy(rows, picks, out):
        shapes.append(out.shape)
        return real(rows, picks, out)

    monkeypatch.setattr(cs, "_ROWS", 256)
    monkeypatch.setattr(cs, "_tile", spy)
    pool = random_vectors(2000, 8, seed=0)
    idx, _, _ = cs.greedy_kcenter(pool, np.array([0]), 300, block=32, shortlist=64, cand=512)
    assert len(shapes) > 10 and max(r * c for r, c in shapes) <= 256 * 32
    assert_valid_greedy(pool, [0], idx.tolist()[:50], cs.greedy_kcenter(pool, np.array([0]), 50)[1].tolist())


@pytest.mark.parametrize("kind", ["isotropic", "clustered"])
@pytest.mark.parametrize("cand, shortlist, block", [(1, 1, 1), (7, 3, 5), (64, 16, 8), (300, 1000, 64)])
def test_lazy_bounds_match_oracle(kind, cand, shortlist, block):
    """Small candidate sets and shortlists force many pool-wide steps and
    stale bounds; the picks stay the exact greedy's."""
    rng = np.random.default_rng(7)
    if kind == "isotropic":
        pool = random_vectors(600, 24, seed=7)
    else:
        centres = rng.standard_normal((6, 24))
        pool = unit(centres[rng.integers(0, 6, 600)] + 0.5 * rng.standard_normal((600, 24))).astype(np.float32)
    stats = {}
    idx, scores, near = greedy_kcenter(pool, np.array([3, 9]), 150, block=block, shortlist=shortlist, cand=cand, stats=stats)
    assert_same_picks(list(zip(idx.tolist(), scores.tolist())), naive_kcenter(pool, [3, 9], 150), pool)
    assert_valid_greedy(pool, [3, 9], idx.tolist(), scores.tolist())
    chosen = [3, 9]
    for p, s, m in zip(idx.tolist(), scores.tolist(), near.tolist()):
        sims = pool[chosen] @ pool[p]
        assert m == chosen[int(np.argmax(sims))] and s == pytest.approx(float(sims.max()), abs=1e-5)
        chosen.append(p)
    assert stats["pairs"] >= 600 * 2 and stats["outer"] >= 1


@pytest.mark.parametrize("early_stop", [True, False])
def test_early_stop_matches_oracle_and_skips_products(early_stop):
    """Rows that reach the bound outside the candidates stop part-way through
    the picks they missed (small blocks and candidate sets make that happen
    often); they are taken up again later, and the picks stay exact."""
    pool = random_vectors(1500, 16, seed=11)
    stats = {}
    idx, scores, near = greedy_kcenter(pool, np.array([0]), 300, block=4, shortlist=8, cand=64,
                                       early_stop=early_stop, stats=stats)
    assert_same_picks(list(zip(idx.tolist(), scores.tolist())), naive_kcenter(pool, [0], 300), pool)
    assert_valid_greedy(pool, [0], idx.tolist(), scores.tolist())
    chosen = [0]
    for p, s, m in zip(idx.tolist(), scores.tolist(), near.tolist()):
        sims = pool[chosen] @ pool[p]
        assert m == chosen[int(np.argmax(sims))] and s == pytest.approx(float(sims.max()), abs=1e-5)
        chosen.append(p)
    if early_stop:
        assert stats["stopped"] > 0
    else:
        assert stats["stopped"] == 0


TIED_POOL = """
import sys, json, numpy as np
from allabel_core.selection import greedy_kcenter
from fakes import random_vectors
base = random_vectors(40, 6, seed=5)
pool = np.vstack([base, base, base])
out = {}
for cand in (1, 2, 7):
    for block in (1, 2, 5):
        st = {}
        idx, scores, _ = greedy_kcenter(pool, np.array([7]), 60, block=block, shortlist=2, cand=cand, stats=st)
        out[f"{cand},{block}"] = [idx.tolist(), scores.tolist(), st["stopped"]]
print(json.dumps(out))
"""


def test_early_stop_ends_when_bounds_tie():
    """Duplicated rows make bounds equal to the bound outside the candidates;
    a row at that bound must still be brought on, or the loop never ends.
    Run in a child process with a deadline, so a regression fails instead of
    hanging the suite."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", TIED_POOL], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    base = random_vectors(40, 6, seed=5)
    pool = np.vstack([base, base, base])
    runs = json.loads(proc.stdout)
    for idx, scores, _ in runs.values():
        assert len(set(idx)) == 60
        assert_valid_greedy(pool, [7], idx, scores)
    assert any(stopped for _, _, stopped in runs.values())


def test_early_stop_computes_fewer_products():
    pool = random_vectors(6000, 32, seed=12)
    with_stop, without = {}, {}
    a = greedy_kcenter(pool, np.array([0]), 400, block=16, cand=512, stats=with_stop)[0]
    b = greedy_kcenter(pool, np.array([0]), 400, block=16, cand=512, early_stop=False, stats=without)[0]
    assert_same_picks(list(zip(a.tolist(), [0.0] * len(a))), list(zip(b.tolist(), [0.0] * len(b))), pool)
    assert with_stop["pairs"] < 0.9 * without["pairs"]


def test_lazy_skips_work_on_clustered_pool():
    """The point of the bounds: far fewer than N·M row-pick products."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((20, 32))
    pool = unit(centres[rng.integers(0, 20, 20000)] + 0.6 * rng.standard_normal((20000, 32))).astype(np.float32)
    stats = {}
    greedy_kcenter(pool, np.array([0]), 400, stats=stats)
    assert stats["pairs"] < 0.5 * 20000 * 401


def test_allowed_and_too_many():
    pool = random_vectors(100, 8, seed=3)
    allowed = np.zeros(100, bool)
    allowed[50:] = True
    idx, _, _ = greedy_kcenter(pool, np.array([0]), 50, allowed=allowed, cand=4, shortlist=2)
    assert sorted(idx.tolist()) == list(range(50, 100))
    with pytest.raises(ValueError, match="only 50 rows"):
        greedy_kcenter(pool, np.array([0]), 51, allowed=allowed)


def test_small_products_run_blas_on_one_thread(monkeypatch):
    """Bringing a few rows up to date runs BLAS on one thread (a second one
    costs more than such a product); big bring-ups keep the process setting."""
    import allabel_core.selection.coreset as cs

    seen = []
    real = cs._tile

    def spy(rows, picks, out):
        seen.append((out.size, [i["num_threads"] for i in cs._blas().info() if i["user_api"] == "blas"]))
        return real(rows, picks, out)

    monkeypatch.setattr(cs, "_tile", spy)
    pool = random_vectors(3000, 16, seed=0)
    with cs._blas().limit(limits=2, user_api="blas"):
        cs.greedy_kcenter(pool, np.array([0]), 50)
        assert seen and all(set(threads) == {1} for _, threads in seen)
        seen.clear()
        monkeypatch.setattr(cs, "_SMALL_WORK", 0)
        cs.greedy_kcenter(pool, np.array([0]), 50)
        assert seen and all(set(threads) == {2} for _, threads in seen)
