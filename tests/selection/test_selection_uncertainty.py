"""Stage 3 and the full ALLabel pipeline with a fake predictor."""

import numpy as np
import pytest

from allabel_core.errors import PredictorError
from allabel_core.selection import (
    SelectionContext, coverage_scores, mean_similarity, select_allabel, select_uncertainty,
)
from fakes import FakePredictor, make_sentences, random_vectors

N = 120


@pytest.fixture
def setup():
    pool = random_vectors(N, 16, 7)
    sents = make_sentences(N)
    asked = []

    def annotate(idx):
        asked.extend(idx)
        return [sents[i] for i in idx]

    pred = FakePredictor()
    return pool, sents, SelectionContext(sents, pred, annotate=annotate), pred, asked


def test_takes_the_most_uncertain_of_a_coverage_shortlist(setup):
    pool, sents, ctx, pred, asked = setup
    sel = select_uncertainty(pool, [1, 2, 3], 4, rng=np.random.default_rng(0), context=ctx)
    demos, predicted = pred.calls[-1]
    assert demos == ["s1", "s2", "s3"] and sorted(asked) == [1, 2, 3]
    assert len(predicted) == 20  # 5 × quota
    # The shortlist ranks with the same lists: the context's texts make "auto" hybrid.
    scores = coverage_scores(pool, [1, 2, 3], pool_texts=[s.text for s in sents])
    assert sel.params["retriever"] == "hybrid"
    free = np.setdiff1d(np.arange(N), [1, 2, 3])
    cutoff = np.sort(scores[free])[::-1][19]
    short = [int(s[1:]) for s in predicted]
    assert all(scores[i] >= cutoff for i in short)
    unc = {s.id: u.uncertainty for s, u in zip([sents[i] for i in short], pred.predict(ctx_demos(pool, sents, [1, 2, 3]), [sents[i].with_spans([]) for i in short]))}
    best = sorted(unc, key=unc.get, reverse=True)[:4]
    assert [f"s{p.index}" for p in sel.picks] == best
    assert all(p.stage == "uncertainty" and "shortlist of 20" in p.note for p in sel.picks)
    assert [p.score for p in sel.picks] == sorted((p.score for p in sel.picks), reverse=True)


def ctx_demos(pool, sents, idx):
    from allabel_core.predictors.base import DemoStore

    return DemoStore([sents[i] for i in idx], pool[idx])


def test_labels_hidden_from_the_context(setup):
    pool, sents, ctx, pred, asked = setup
    assert all(not s.spans for s in ctx.sentences)
    assert any(s.spans for s in sents)


def test_shortlist_options(setup):
    pool, sents, ctx, pred, asked = setup
    sel = select_uncertainty(pool, [], 3, rng=np.random.default_rng(0), context=ctx, shortlist_by="all")
    # Nothing selected: nothing to retrieve, so no prediction; the coverage order decides and the note says so.
    assert pred.calls == [] and "all 120" in sel.picks[0].note and sel.picks[0].note.startswith("cold start: no labels yet")
    assert all(np.isnan(p.score) for p in sel.picks)
    scores = coverage_scores(pool, [], pool_texts=[s.text for s in sents])  # the same retriever as the stage's
    assert sorted(scores[[p.index for p in sel.picks]]) == sorted(np.sort(scores)[::-1][:3])
    sel = select_uncertainty(pool, [], 3, rng=np.random.default_rng(0), context=ctx, shortlist_by="random", shortlist_factor=2)
    assert pred.calls == [] and "at random" in sel.picks[0].note and len(set(sel.indices)) == 3
    assert asked == []  # nothing selected yet: no label revealed
    sel = select_uncertainty(pool, [4], 3, rng=np.random.default_rng(0), context=ctx, shortlist_by="random", shortlist_factor=2)
    assert len(pred.calls[-1][1]) == 6 and "cold start" not in sel.picks[0].note  # one demonstration: predicted


def test_needs_a_predictor():
    pool = random_vectors(30, 8, 0)
    with pytest.raises(PredictorError, match="split 1:4:0"):
        select_uncertainty(pool, [], 3, rng=np.random.default_rng(0))
    with pytest.raises(PredictorError, match="needs a predictor"):
        select_allabel(pool, [], 10, rng=np.random.default_rng(0), min_stage=0)
    # With the default min_stage, shares this small fold into similarity: no predictor needed.
    assert select_allabel(pool, [], 10, rng=np.random.default_rng(0)).params["quotas"] == {"D": 0, "S": 10, "U": 0}
    assert len(select_allabel(pool, [], 10, rng=np.random.default_rng(0), split="1:4:0")) == 10


def test_allabel_runs_stages_in_order_with_quotas(setup):
    pool, sents, ctx, pred, asked = setup
    sel = select_allabel(pool, [], 25, rng=np.random.default_rng(0), context=ctx, min_stage=0)
    stages = [p.stage for p in sel.picks]
    assert stages == ["diversity"] * 5 + ["similarity"] * 15 + ["uncertainty"] * 5
    assert sel.picks[0].index == int(np.argmin(mean_similarity(pool)))
    # Stage 3 sees exactly the 20 earlier picks as demonstrations, with their gold.
    assert sorted(asked) == sorted(p.index for p in sel.picks[:20])
    assert sel.params["quotas"] == {"D": 5, "S": 15, "U": 5}
    other = select_allabel(pool, [], 25, rng=np.random.default_rng(0), context=ctx, order="SDU", split="2:2:1",
                           min_stage=0)
    assert [p.stage for p in other.picks] == ["similarity"] * 10 + ["diversity"] * 10 + ["uncertainty"] * 5


def test_allabel_resume_skips_the_seed(setup):
    pool, sents, ctx, pred, asked = setup
    sel = select_allabel(pool, [4, 9], 10, rng=np.random.default_rng(0), context=ctx, min_stage=0)
    assert not any("seed" in p.note for p in sel.picks)
    assert sel.picks[0].nearest in (4, 9)


def test_allabel_similarity_only_equals_similarity_stage(setup):
    from allabel_core.selection import select_similarity

    pool, *_ = setup
    a = select_allabel(pool, [], 12, rng=np.random.default_rng(3), split="0:1:0")
    b = select_similarity(pool, [], 12, rng=np.random.default_rng(3))
    assert np.array_equal(np.asarray(a), np.asarray(b))
