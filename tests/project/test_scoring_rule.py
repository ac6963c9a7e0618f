"""The one rule for what a project's predictions are scored against
(allabel_core.project.scoring), for every shape a project can have."""

from __future__ import annotations

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.data.sentence import Sentence, Span
from allabel_core.project import Project
from allabel_core.project.scoring import gold_to_score_against, score_against_gold

SCHEMA = ["MAT", "PRO"]
POOL = [
    ("p1", "LiFePO4 is a cathode.", [(0, 7, "MAT")]),
    ("p2", "TiO2 films were grown.", [(0, 4, "MAT")]),
    ("p3", "The band gap of ZnO is wide.", [(4, 12, "PRO"), (16, 19, "MAT")]),
]
TARGET = [
    ("t1", "MoS2 flakes were exfoliated.", [(0, 4, "MAT")]),
    ("t2", "The capacity of LiCoO2 fades.", [(4, 12, "PRO"), (16, 22, "MAT")]),
]


def corpus(rows, gold: bool) -> Corpus:
    return Corpus([Sentence.from_text(i, t, spans if gold else ()) for i, t, spans in rows])


def make(tmp_path, *, pool_gold=True, target=None) -> Project:
    return Project.create(tmp_path / "s.allabel", corpus(POOL, pool_gold), target, SCHEMA)


def perfect(rows) -> dict[str, list[Span]]:
    return {i: [Span(a, b, lab, t[a:b], "suggested") for a, b, lab in spans] for i, t, spans in rows}


def test_a_target_with_gold_is_what_is_scored(tmp_path):
    p = make(tmp_path, target=corpus(TARGET, gold=True))
    gold = gold_to_score_against(p)
    assert gold.role == "target" and [s.id for s in gold.sentences] == ["t1", "t2"]
    scored = score_against_gold(p, perfect(TARGET))
    assert scored.scores.f1 == pytest.approx(1.0) and scored.n == 2 and scored.label == "target set, 2 sentences"
    # a prediction that missed everything on one target sentence counts against it
    half = perfect(TARGET) | {"t2": []}
    assert score_against_gold(p, half).scores.recall == pytest.approx(1 / 3)


def test_a_target_without_gold_falls_back_to_the_pool_not_confirmed(tmp_path):
    p = make(tmp_path, target=corpus(TARGET, gold=False))
    p.labels.add_span("p1", 0, 7, "MAT")
    p.labels.confirm("p1")
    gold = gold_to_score_against(p)
    assert gold.role == "pool" and [s.id for s in gold.sentences] == ["p2", "p3"]
    scored = score_against_gold(p, perfect(POOL))
    assert scored.n == 2 and scored.scores.support == 3 and scored.scores.f1 == pytest.approx(1.0)
    assert scored.label == "pool (not confirmed), 2 sentences"
    # target predictions alone (no gold there) give nothing to score
    assert score_against_gold(p, perfect(TARGET)) is None


def test_no_target_scores_the_pool_and_no_gold_scores_nothing(tmp_path):
    p = make(tmp_path)
    assert gold_to_score_against(p).role == "pool"
    only_p2 = {"p2": perfect(POOL)["p2"]}  # failed or missing predictions are not scored as empty
    scored = score_against_gold(p, only_p2)
    assert scored.n == 1 and scored.scores.f1 == pytest.approx(1.0)
    p.close()
    (tmp_path / "s.allabel").unlink()
    bare = make(tmp_path, pool_gold=False, target=corpus(TARGET, gold=False))
    assert gold_to_score_against(bare) is None and score_against_gold(bare, perfect(POOL)) is None


def test_the_live_curve_and_the_curve_page_score_by_the_same_rule(tmp_path):
    from fakes import HashEmbedder, Offline

    from allabel_core.project import tasks
    from allabel_core.views.project_data import latest_scores

    p = make(tmp_path, target=corpus(TARGET, gold=False))
    p.labels.add_span("p1", 0, 7, "MAT")
    p.labels.confirm("p1")
    point = tasks.refresh_predictions(p, HashEmbedder(), Offline(), predict_pool=False)
    assert point["scored_on"] == "pool (not confirmed)"
    page = latest_scores(p)
    assert page.gold.role == "pool" and page.scores.f1 == point["f1"] and page.n == point["scored_sentences"]
