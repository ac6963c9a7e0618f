"""The project tasks the dashboard runs as jobs: an LLM predictor's calls made
by them land in the project's ledger, as a suggestion's do."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fakes import COMPLETION, DEMOS, LABELS, PROMPT, QUERIES, FakeLlm, Offline, make_sentence

from allabel_core.project import tasks as PT
from allabel_core.data.corpus import Corpus
from allabel_core.predictors.ledger import Prices
from allabel_core.project import Project
from allabel_core.project.predict import llm_usage_logged, predict_and_record, suggest_for

EXTRA = [
    ("e1", "Cu2O thin films were sputtered onto glass.", [("Cu2O", "MAT")]),
    ("e2", "The hardness of WC coatings was measured.", [("hardness", "PRO"), ("WC", "MAT")]),
    ("e3", "MoS2 flakes were exfoliated in water.", [("MoS2", "MAT")]),
]


@pytest.fixture
def project(tmp_path):
    pool = Corpus([make_sentence(*row) for row in DEMOS + QUERIES + EXTRA])
    p = Project.create(tmp_path / "tasks.allabel", pool, schema=list(LABELS), name="tasks")
    p.set_settings(budget=6, split=[1, 1, 1])
    yield p
    p.close()


def confirm(project, ids) -> None:
    for sid in ids:
        for sp in project.sentence(sid).spans:  # gold becomes the person's label
            project.labels.add_span(sid, sp.start, sp.end, sp.label)
        project.labels.confirm(sid)


def expect_row(row, calls: int) -> None:
    assert row["model"] == "fake-llm" and row["base_url"] == "http://localhost:9/v1"
    assert row["calls"] == calls
    assert row["prompt_tokens"] == PROMPT * calls and row["completion_tokens"] == COMPLETION * calls
    assert row["cost"] == pytest.approx(Prices(1.0, 2.0).cost(PROMPT * calls, COMPLETION * calls))


def test_live_curve_logs_the_llm_calls_in_the_project_ledger(project, embedder):
    confirm(project, ["d1", "d2"])
    llm = FakeLlm()
    assert len(project.records.ledger()) == 0
    assert PT.keep_live_curve(project, embedder, llm) == 1
    rows = project.records.ledger()
    assert list(rows["purpose"]) == ["live curve"]
    expect_row(rows.iloc[0], calls=len(project))  # the whole pool predicted, no target set
    assert rows.iloc[0]["details"] == {"role": "pool", "sentences": len(project), "n_labeled": 2}
    assert project.records.ledger_totals()["calls"] == llm.ledger.calls == len(llm.predicted)
    # Predictions are stored as before, and the curve got its point.
    assert len(project.records.predictions(role="pool")) == len(project)
    assert list(project.records.curve_results("live")["n_labeled"]) == [2]


def test_live_curve_with_a_target_logs_the_target_predictions(tmp_path, embedder):
    pool = Corpus([make_sentence(*row) for row in DEMOS + EXTRA])
    target = Corpus([make_sentence(*row) for row in QUERIES])
    p = Project.create(tmp_path / "t.allabel", pool, target, schema=list(LABELS))
    try:
        confirm(p, ["d1"])
        PT.keep_live_curve(p, embedder, FakeLlm(), predict_pool=False)
        rows = p.records.ledger()
        assert list(rows["purpose"]) == ["live curve"] and rows.iloc[0]["details"]["role"] == "target"
        expect_row(rows.iloc[0], calls=len(QUERIES))
    finally:
        p.close()


def test_uncertainty_stage_logs_the_llm_calls_in_the_project_ledger(project, embedder):
    confirm(project, ["d1", "d2", "d3"])
    llm = FakeLlm()
    picks = PT.run_stages(project, embedder, llm, ["uncertainty"])
    assert [p["stage"] for p in picks] == ["uncertainty"] * PT.stage_quotas(project)["uncertainty"]
    rows = project.records.ledger()
    assert list(rows["purpose"]) == ["uncertainty stage"]
    assert llm.ledger.calls > 0
    expect_row(rows.iloc[0], calls=llm.ledger.calls)
    # Stage 3 still stores no predictions of its own.
    assert len(project.records.predictions()) == 0


def test_stages_without_the_predictor_log_nothing(project, embedder):
    PT.run_stages(project, embedder, FakeLlm(), ["diversity", "similarity"])
    assert len(project.selections.table()) > 0 and len(project.records.ledger()) == 0


def test_an_offline_predictor_logs_nothing(project, embedder):
    confirm(project, ["d1"])
    offline = Offline()
    PT.keep_live_curve(project, embedder, offline)
    PT.run_stages(project, embedder, offline, ["uncertainty"])
    suggest_for(project, "q1", offline, embedder)
    assert offline.predicted and len(project.records.ledger()) == 0


def test_predict_one_and_suggest_log_one_row_each(project, embedder):
    confirm(project, ["d1"])
    llm = FakeLlm()
    PT.predict_one(project, "q1", llm, embedder)
    suggest_for(project, "q2", llm, embedder)
    rows = project.records.ledger()
    assert list(rows["purpose"]) == ["predict", "suggest"]
    assert rows.iloc[0]["details"] == {"sentence_id": "q1", "role": "pool"}
    assert rows.iloc[1]["details"] == {"sentence_id": "q2"}
    for _, row in rows.iterrows():
        expect_row(row, calls=1)


def test_experiment_logs_the_llm_calls_in_the_project_ledger(tmp_path, embedder):
    pool = Corpus([make_sentence(*row) for row in DEMOS + EXTRA])
    target = Corpus([make_sentence(*row) for row in QUERIES])
    p = Project.create(tmp_path / "x.allabel", pool, target, schema=list(LABELS))
    try:
        llm = FakeLlm()
        PT.run_experiment(p, embedder, llm, strategies=["random"], budgets=[0.5], seeds=[0])
        rows = p.records.ledger()
        assert list(rows["purpose"]) == ["experiment"]
        assert llm.ledger.calls > 0
        expect_row(rows.iloc[0], calls=llm.ledger.calls)
    finally:
        p.close()


def test_calls_are_logged_when_the_work_fails(project, embedder):
    llm = FakeLlm()

    class Boom(Exception):
        pass

    def fail_midway(demos, sentences, *, progress=None):
        FakeLlm.predict(llm, demos, sentences[:2])
        raise Boom

    llm.predict = fail_midway
    sentences = [project.sentence(i) for i in ("q1", "q2", "q3")]
    with pytest.raises(Boom):
        predict_and_record(project, llm, None, sentences, purpose="live curve")
    expect_row(project.records.ledger().iloc[0], calls=2)
    assert len(project.records.predictions()) == 0  # nothing came back to store


def test_llm_usage_logged_reports_the_cache_and_only_the_delta(project):
    llm = FakeLlm()
    llm.ledger.record_call(latency=0.0, prompt_tokens=5, completion_tokens=5)  # spent before: not this row
    with llm_usage_logged(project, llm, purpose="suggest", details={"sentence_id": "q1"}):
        llm.ledger.record_cache_hit()
    row = project.records.ledger().iloc[0]
    assert row["calls"] == 0 and bool(row["cached"]) and row["prompt_tokens"] == 0
    assert row["cost"] == pytest.approx(0.0) and not np.isnan(row["cost"])


def test_a_running_stage_names_itself_with_its_count(project, embedder):
    confirm(project, ["d1", "d2"])
    heard = []
    PT.run_stages(project, embedder, Offline(), ["diversity", "similarity", "uncertainty"],
                  progress=lambda d, t, m: heard.append((d, t, m)))
    messages = [m for _, _, m in heard]
    quotas = PT.stage_quotas(project)
    for stage in ("diversity", "similarity", "uncertainty"):
        assert f"{stage}: 0 of {quotas[stage]}" in messages and f"{stage}: {quotas[stage]} of {quotas[stage]}" in messages
    assert any(re.fullmatch(r"uncertainty: predicting \d+ of \d+ candidates for \d+ picks", m) for m in messages)
    total = sum(quotas.values())
    assert heard[-1] == (total, total, "done") and all(t == total for _, t, _ in heard)
    assert [d for d, _, _ in heard] == sorted(d for d, _, _ in heard)  # the bar never goes back


def test_embedding_progress_says_n_of_n_and_time_left(monkeypatch):
    import time as time_mod

    clock = iter([100.0, 102.0, 104.0])
    monkeypatch.setattr(time_mod, "perf_counter", lambda: next(clock))
    heard = []
    report = PT.embedding_progress(lambda d, t, m: heard.append(m))
    for done in (88, 216, 344, 472):  # 88 cached, then chunks of 128, 2 s each
        report(done, 600)
    assert heard[0] == "loading the embedding model, then embedding 512 of 600 sentences"
    assert heard[1] == "embedding 216 of 600 sentences"
    assert heard[2] == "embedding 344 of 600 sentences, ~4 s left"
    assert heard[3] == "embedding 472 of 600 sentences, ~2 s left"
