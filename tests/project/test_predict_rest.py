"""Predict the rest: every sentence a person has not confirmed is predicted,
stored with provenance, and a re-run refreshes exactly the sentences whose
retrieved demonstrations (or their labels, or the predictor) changed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fakes import DEMOS, LABELS, QUERIES, FakeChatModel, HashEmbedder, make_sentence

from allabel_core.data.corpus import Corpus
from allabel_core.errors import ConfigError
from allabel_core.jobs import Job
from allabel_core.predictors.llm import LlmPredictor
from allabel_core.project import Project
from allabel_core.project.rest import describe_rate, least_certain_first, predict_rest, predictor_identity

EXTRA = [
    ("e1", "Cu2O thin films were sputtered onto glass.", [("Cu2O", "MAT")]),
    ("e2", "The hardness of WC coatings was measured.", [("hardness", "PRO"), ("WC", "MAT")]),
    ("e3", "MoS2 flakes were exfoliated in water.", [("MoS2", "MAT")]),
    ("e4", "Perovskite films were annealed at 100 C.", [("Perovskite", "MAT"), ("annealed", "SMT")]),
    ("e5", "The porosity of the MOF was high.", [("porosity", "PRO"), ("MOF", "MAT")]),
]
MATERIALS = re.compile(r"\b(TiO2|ZnO|LiFePO4|Graphene|Si|Fe3O4|Cu2O|WC|MoS2|MOF)\b")
K = 2


def answer(query: str, params) -> str:
    """Every known material in the sentence, as the model's JSON answer."""
    return json.dumps([{"text": m, "label": "MAT"} for m in dict.fromkeys(MATERIALS.findall(query))])


def llm(embedder, k: int = K, model: FakeChatModel | None = None) -> LlmPredictor:
    model = model or FakeChatModel(default="[]")
    model.default = answer  # type: ignore[assignment]
    model.answer_for = lambda q, p: answer(q, p)  # every query answered from its text
    return LlmPredictor(model, LABELS, embedder=embedder, k=k, cache=False, uncertainty="none", concurrency=1,
                        retriever="dense")  # the oracle below is dense cosine


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture
def project(tmp_path):
    pool = Corpus([make_sentence(*row) for row in DEMOS + QUERIES + EXTRA])
    p = Project.create(tmp_path / "rest.allabel", pool, schema=list(LABELS), name="rest")
    yield p
    p.close()


def confirm(project, sid: str) -> None:
    for sp in project.gold().by_id()[sid].spans:
        project.labels.add_span(sid, sp.start, sp.end, sp.label)
    project.labels.confirm(sid)


def brute_top_k(embedder, project, sid: str, k: int) -> list[str]:
    """The k most similar confirmed sentences, by brute-force cosine (the oracle)."""
    done = [s for s in project.annotated()]
    vecs = embedder.encode([s.text for s in done])
    q = embedder.encode([project.sentence(sid).text])[0]
    order = np.argsort(-(vecs @ q), kind="stable")[:k]
    return sorted(done[i].id for i in order)


def test_predicts_every_unconfirmed_sentence_with_provenance(project, embedder):
    for sid in ("d1", "d2", "d3"):
        confirm(project, sid)
    project.labels.skip("q1")  # skipped is not confirmed: predicted too
    pred = llm(embedder)
    run = predict_rest(project, embedder, pred)
    rest = [sid for sid in project.pool_ids() if sid not in {"d1", "d2", "d3"}]
    assert (run.rest, run.predicted, run.kept, run.failed, run.cancelled) == (len(rest), len(rest), 0, 0, False)
    stored = project.records.rest_predictions()
    assert set(stored) == set(rest)
    rec = stored["q2"]
    assert [(s.text, s.label) for s in rec.prediction.spans] == [("LiFePO4", "MAT")]
    assert len(rec.prediction.demonstrations) == K and set(rec.prediction.demonstrations) <= {"d1", "d2", "d3"}
    prov = rec.provenance
    assert prov["source"] == "fake" and prov["task"] == "predict rest" and prov["n_confirmed"] == 3
    assert "prompt ner.v1" in prov["version"] and prov["params"]["k"] == K and "concurrency" not in prov["params"]
    assert rec.created_at > 0 and len(prov["fingerprint"]) == 64


def test_rerun_without_changes_predicts_nothing(project, embedder):
    for sid in ("d1", "d2"):
        confirm(project, sid)
    model = FakeChatModel()
    pred = llm(embedder, model=model)
    predict_rest(project, embedder, pred)
    calls = len(model.calls)
    again = predict_rest(project, embedder, pred)
    assert (again.predicted, again.kept) == (0, again.rest) and len(model.calls) == calls


def test_a_new_label_refreshes_exactly_the_sentences_whose_demonstrations_changed(project, embedder):
    for sid in ("d1", "d2", "d3"):
        confirm(project, sid)
    predict_rest(project, embedder, llm(embedder))
    rest_before = [sid for sid in project.pool_ids() if project.labels.state(sid) != "confirmed"]
    before = {sid: brute_top_k(embedder, project, sid, K) for sid in rest_before}
    confirm(project, "d4")
    after = {sid: brute_top_k(embedder, project, sid, K) for sid in rest_before if sid != "d4"}
    changed = {sid for sid in after if after[sid] != before[sid]}
    assert changed and len(changed) < len(after)  # the oracle finds some, not all
    model = FakeChatModel()
    run = predict_rest(project, embedder, llm(embedder, model=model))
    asked = {FakeChatModel.query_of(c["messages"]) for c in model.calls}
    texts = {sid: project.sentence(sid).text for sid in project.pool_ids()}
    assert asked == {texts[sid] for sid in changed}
    assert (run.predicted, run.kept) == (len(changed), len(after) - len(changed))


def test_changed_labels_of_a_retrieved_demonstration_refresh_its_users(project, embedder):
    for sid in ("d1", "d2", "d3"):
        confirm(project, sid)
    predict_rest(project, embedder, llm(embedder))
    users = {sid for sid, r in project.records.rest_predictions().items() if "d3" in r.prediction.demonstrations}
    assert users
    project.labels.remove_span("d3", *project.labels.spans("d3")[0].key()[:2])  # d3's labels change
    model = FakeChatModel()
    predict_rest(project, embedder, llm(embedder, model=model))
    texts = {sid: project.sentence(sid).text for sid in project.pool_ids()}
    assert {FakeChatModel.query_of(c["messages"]) for c in model.calls} == {texts[s] for s in users}


def test_another_predictor_refreshes_everything(project, embedder):
    confirm(project, "d1")
    confirm(project, "d2")
    first = predict_rest(project, embedder, llm(embedder, k=1))
    assert predictor_identity(llm(embedder, k=1))["key"] != predictor_identity(llm(embedder, k=2))["key"]
    assert predictor_identity(llm(embedder, k=1))["key"] == predictor_identity(
        LlmPredictor(FakeChatModel(), LABELS, embedder=embedder, k=1, cache=False, uncertainty="none", concurrency=3,
                     retriever="dense")
    )["key"]  # concurrency changes speed, not answers
    assert predictor_identity(llm(embedder, k=1))["key"] != predictor_identity(
        LlmPredictor(FakeChatModel(), LABELS, embedder=embedder, k=1, cache=False, uncertainty="none", concurrency=1,
                     retriever="bm25")
    )["key"]  # another retriever retrieves other demonstrations
    run = predict_rest(project, embedder, llm(embedder, k=2))
    assert run.predicted == first.rest and run.kept == 0


def test_stop_keeps_what_was_done_and_the_next_run_finishes_the_rest(project, embedder):
    confirm(project, "d1")
    pred = llm(embedder)
    def work(job):
        def progress(done, total, message):
            job.progress(done, total, message)
            if done >= 2:
                job.cancel()  # the person presses Stop after the first batch
        return predict_rest(project, embedder, pred, job=job, progress=progress, batch=2)

    job = Job(work).start()
    assert job.wait(30)
    run = job.value
    assert run.cancelled and run.predicted == 2 and job.state == "cancelled"
    assert len(project.records.rest_predictions()) == 2
    rest = predict_rest(project, embedder, pred)
    assert (rest.predicted, rest.kept) == (rest.rest - 2, 2)


def test_progress_names_counts_rate_and_time_left(project, embedder):
    confirm(project, "d1")
    heard = []
    predict_rest(project, embedder, llm(embedder), progress=lambda d, t, m: heard.append((d, t, m)), batch=3)
    total = len(project) - 1
    assert heard[0] == (0, 0, "embedding the sentences and retrieving their demonstrations")
    assert heard[1][:2] == (0, total) and heard[-1][:2] == (total, total)
    assert re.search(rf"{total} of {total} · [\d.]+ sentences/s · ~\d+ s left", heard[-1][2])
    assert describe_rate(3, 10, 1.5) == "3 of 10 · 2.0 sentences/s · ~4 s left"
    assert describe_rate(0, 10, 0) == "0 of 10"


def test_a_failed_sentence_is_stored_with_its_error_and_retried(project, embedder):
    from allabel_core.predictors.chat_model import LlmRequestError

    confirm(project, "d1")
    model = FakeChatModel()
    pred = llm(embedder, model=model)
    broken = project.sentence("q2").text

    def flaky(q, p):
        if q == broken:
            raise LlmRequestError("the endpoint timed out", kind="timeout")
        return answer(q, p)

    model.answer_for = flaky
    first = predict_rest(project, embedder, pred)
    assert first.failed == 1 and "timed out" in project.records.rest_predictions()["q2"].prediction.error
    model.answer_for = lambda q, p: answer(q, p)
    model.calls.clear()
    again = predict_rest(project, embedder, pred)
    assert (again.predicted, again.failed) == (1, 0) and len(model.calls) == 1
    assert project.records.rest_predictions()["q2"].prediction.error is None


def test_no_confirmed_sentence_is_a_clear_error(project, embedder):
    with pytest.raises(ConfigError, match="confirm a few labels first"):
        predict_rest(project, embedder, llm(embedder))
    assert project.records.rest_predictions() == {}


def test_the_knn_predictor_reads_the_whole_store():
    from allabel_core.predictors.knn import KnnPredictor

    assert KnnPredictor(HashEmbedder(), gazetteer="store").reads_whole_store
    assert not KnnPredictor(HashEmbedder(), gazetteer="retrieved").reads_whole_store


def test_least_certain_first_orders_by_stored_uncertainty(project, embedder):
    confirm(project, "d1")
    model = FakeChatModel()
    pred = llm(embedder, model=model)
    pred.uncertainty = "auto"
    predict_rest(project, embedder, llm(embedder))
    order = least_certain_first(project)
    rest = project.records.rest_predictions()
    assert set(order) == set(rest) and len(order) == len(project) - 1
    pos = {sid: i for i, sid in enumerate(project.pool_ids())}
    keys = [(-rest[s].prediction.uncertainty if rest[s].prediction.uncertainty == rest[s].prediction.uncertainty
             else float("inf"), pos[s]) for s in order]
    assert keys == sorted(keys)
    first = order[0]
    assert project.selections.next_id(order=order) == first
    project.labels.accept_prediction(first, rest[first].prediction.spans)
    assert project.selections.next_id(first, order=order) == order[1]
    assert project.selections.previous_id(order[1], order=order) == first


def test_a_killed_run_keeps_its_batches_and_the_next_predicts_only_the_rest(project, embedder):
    confirm(project, "d1")
    confirm(project, "d2")
    pred = llm(embedder)
    real, calls = pred.predict, []

    def dies_on_the_third_batch(demos, sentences, **kw):
        calls.append([s.id for s in sentences])
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C, or the process killed, in the middle of a batch
        return real(demos, sentences, **kw)

    pred.predict = dies_on_the_third_batch
    with pytest.raises(KeyboardInterrupt):
        predict_rest(project, embedder, pred, batch=2)
    assert set(project.records.rest_predictions()) == set(calls[0] + calls[1])
    pred.predict = real
    run = predict_rest(project, embedder, pred, batch=2)
    assert (run.predicted, run.kept) == (run.rest - 4, 4)
    resumed = {sid: r.prediction.spans for sid, r in project.records.rest_predictions().items()}
    predict_rest(project, embedder, pred, force=True)
    assert {sid: r.prediction.spans for sid, r in project.records.rest_predictions().items()} == resumed


def test_planning_goes_through_the_pool_a_chunk_at_a_time(project, embedder):
    from allabel_core.project.rest import plan_rest

    confirm(project, "d1")
    pred = llm(embedder)
    heard = []
    small = plan_rest(project, embedder, pred, chunk=3, progress=lambda d, t, m: heard.append(m))
    whole = plan_rest(project, embedder, pred)
    assert (small.todo, small.fingerprints) == (whole.todo, whole.fingerprints) and len(small.todo) == small.rest
    assert heard[0].startswith("checking what changed: 3 of ") and f"{small.rest} of {small.rest}" in heard[-1]
    predict_rest(project, embedder, pred)
    assert plan_rest(project, embedder, pred, chunk=3).todo == []


def test_time_left_reads_in_minutes_and_hours_and_the_rate_is_this_runs():
    from allabel_core.project.rest import describe_duration

    assert describe_rate(30, 100, 10, start=10) == "30 of 100 · 2.0 sentences/s · ~35 s left"
    assert describe_rate(10, 100, 5, start=10) == "10 of 100"  # nothing done by this run yet
    assert [describe_duration(s) for s in (0, 59.4, 250, 7500)] == ["0 s", "59 s", "4 min 10 s", "2 h 05 min"]
