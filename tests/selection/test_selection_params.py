"""Every option a strategy accepts changes what it does (or, for pure
performance knobs, provably does not change the result)."""

import numpy as np
import pytest

from allabel_core.selection import SelectionContext, get_strategy, run_strategy
from fakes import FakePredictor, make_sentences, random_vectors

N = 150
POOL = random_vectors(N, 16, 11)
TARGET = random_vectors(60, 16, 12)
SENTS = make_sentences(N, seed=4)
TARGET_TEXTS = [s.text for s in make_sentences(60, seed=12)]

# (strategy, option, base value or None for the default, changed value)
CHANGES = [
    ("coreset", "seed", None, "highest-mean"),
    ("coreset", "candidates", None, "inliers"),
    ("coreset", "outlier_quantile", {"candidates": "inliers"}, 0.4),
    ("similarity", "k_cov", None, 2),
    ("similarity", "discount", None, 1.0),
    # From nothing selected (a cold start) the first of the coverage order are taken whatever the shortlist's size.
    ("uncertainty", "shortlist_factor", {"_selected": [0, 1, 2]}, 1.5),
    ("uncertainty", "shortlist_by", None, "random"),
    ("uncertainty", "k_cov", None, 2),
    ("uncertainty", "discount", {"_selected": list(range(0, 150, 5)), "shortlist_factor": 1.5}, 1.0),  # once targets are served
    ("allabel", "split", {"min_stage": 0}, "3:1:1"),
    ("allabel", "order", {"min_stage": 0}, "SDU"),
    ("allabel", "seed", {"min_stage": 0}, "highest-mean"),
    ("allabel", "candidates", {"min_stage": 0}, "inliers"),
    ("allabel", "k_cov", None, 2),
    ("allabel", "discount", None, 1.0),
    ("allabel", "shortlist_factor", {"min_stage": 0}, 1.5),
    ("allabel", "shortlist_by", {"min_stage": 0}, "random"),
    ("allabel", "min_stage", None, 0),
    ("similarity", "retriever", None, "bm25"),
    ("similarity", "rrf_k", {"retriever": "hybrid"}, 0.0),
    ("uncertainty", "retriever", None, "bm25"),
    ("uncertainty", "rrf_k", {"retriever": "hybrid", "shortlist_factor": 1.5}, 0.0),
    ("allabel", "retriever", None, "bm25"),
    ("allabel", "rrf_k", {"retriever": "hybrid"}, 0.0),
]
# Options that must not change the result: the core-set's blocking.
INVARIANT = [("coreset", "block", 3), ("coreset", "shortlist", 5), ("coreset", "cand", 7)]
# Checked elsewhere (test_selection_similarity, test_selection_ivf): the approximate index.
ELSEWHERE = {("similarity", "index"), ("uncertainty", "index"), ("allabel", "index")}


def pick(name, params, target=TARGET):
    params = dict(params)
    selected = params.pop("_selected", [])
    ctx = SelectionContext(SENTS, FakePredictor(), annotate=lambda idx: [SENTS[i] for i in idx])
    sel = run_strategy(name, POOL, selected, 25, rng=np.random.default_rng(0), target_vectors=target, context=ctx,
                       pool_texts=[s.text for s in SENTS], target_texts=TARGET_TEXTS, **params)
    return np.asarray(sel).tolist(), sel


@pytest.mark.parametrize("name, option, base, value", CHANGES)
def test_option_changes_the_selection(name, option, base, value):
    base = base or {}
    default, _ = pick(name, base)
    changed, sel = pick(name, {**base, option: value})
    assert changed != default, f"{name}: {option}={value!r} changed nothing"


@pytest.mark.parametrize("name, option, value", INVARIANT)
def test_performance_knobs_do_not_change_the_result(name, option, value):
    assert pick(name, {})[0] == pick(name, {option: value})[0]


def test_every_option_is_covered():
    covered = {(n, o) for n, o, *_ in CHANGES} | {(n, o) for n, o, _ in INVARIANT} | ELSEWHERE
    for name in ("random", "coreset", "similarity", "uncertainty", "allabel", "full"):
        for option in get_strategy(name).defaults:
            assert (name, option) in covered, f"{name}.{option} has no test that it is used"
