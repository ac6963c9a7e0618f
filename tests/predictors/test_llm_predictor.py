"""LlmPredictor with a fake model replaying recorded answers."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from fakes import LABELS, FakeChatModel

from allabel_core.errors import ConfigError
from allabel_core.predictors.ledger import Ledger, Prices
from allabel_core.predictors import LlmPredictor, Predictor
from allabel_core.predictors.base import DemoStore
from allabel_core.predictors.llm import CallableModel, LlmRequestError, disagreement, perplexity, with_suggestions
from allabel_core.scoring import evaluate
from allabel_core.data.sentence import Span

GOOD = {
    "ZnO nanorods were grown by sol-gel synthesis.": '[{"text": "ZnO", "label": "MAT"}, {"text": "sol-gel", "label": "SMT"}]',
    "The capacity of LiFePO4 fades.": '```json\n[{"text": "capacity", "label": "pro"}, {"text": "LiFePO4", "label": "MAT"}]\n```',
    "In the 𝛼 phase, TiO2 shows a wide band gap.": 'Sure! [{"text": "TiO2", "label": "MAT"}, {"text": "band gap", "label": "PRO"},] hope it helps',
}


def make(model, cache, embedder, **kw):
    kw.setdefault("uncertainty", "none")
    return LlmPredictor(model, LABELS, embedder=embedder, cache=cache, **kw)


def test_is_a_predictor_with_a_telling_name(llm_cache, embedder):
    p = make(FakeChatModel(), llm_cache, embedder)
    assert isinstance(p, Predictor)
    assert p.name == "LLM: fake at fake://model"
    params = p.params()
    assert params["predictor"] == "llm" and params["k"] == 5 and params["prompt_version"] == "ner.v1"
    json.dumps(params)


def test_whole_path_to_bio_and_strict_scores(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    preds = make(model, llm_cache, embedder).predict(demo_store, query_sentences)
    assert [p.sentence_id for p in preds] == ["q1", "q2", "q3"]
    assert all(p.error is None for p in preds)
    gold = [q.tags() for q in query_sentences]
    pred = [with_suggestions(q, p).tags() for q, p in zip(query_sentences, preds)]
    assert evaluate(gold, pred).f1 == 1.0
    assert all(sp.status == "suggested" for p in preds for sp in p.spans)


def test_demonstrations_most_similar_last(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    p = make(model, llm_cache, embedder, k=3)
    preds = p.predict(demo_store, query_sentences[:1])
    pred = preds[0]
    assert len(pred.demonstrations) == 3
    assert list(pred.similarities) == sorted(pred.similarities)  # ascending: best last
    ids, sims = demo_store.retrieve(embedder.encode([query_sentences[0].text]), 3)
    assert pred.demonstrations == tuple(demo_store.ids[i] for i in ids[0][::-1])
    msgs = pred.details["messages"]
    by_id = {s.id: s for s in demo_store.sentences}
    assert msgs[-3]["content"] == "Sentence: " + by_id[pred.demonstrations[-1]].text
    assert msgs[-1]["content"] == "Sentence: " + query_sentences[0].text


def test_suggested_spans_never_become_demonstrations(query_sentences, llm_cache, embedder):
    from fakes import make_sentence

    s = make_sentence("d", "TiO2 films were annealed.", [("TiO2", "MAT")])
    s = s.with_spans([*s.spans, Span(16, 24, "SMT", "annealed", "suggested")])
    store = DemoStore.from_sentences([s], embedder)
    model = FakeChatModel()
    pred = make(model, llm_cache, embedder).predict(store, query_sentences[:1])[0]
    assert json.loads(pred.details["messages"][2]["content"]) == [{"text": "TiO2", "label": "MAT"}]


def test_query_is_never_its_own_demonstration(demo_store, demo_sentences, llm_cache, embedder):
    preds = make(FakeChatModel(), llm_cache, embedder).predict(demo_store, demo_sentences[:2])
    for p in preds:
        assert p.sentence_id not in p.demonstrations


def test_empty_store_is_zero_shot(query_sentences, llm_cache, embedder):
    store = DemoStore([], __import__("numpy").zeros((0, 64), "float32"))
    pred = make(FakeChatModel(GOOD), llm_cache, embedder).predict(store, query_sentences[:1])[0]
    assert pred.demonstrations == () and [m["role"] for m in pred.details["messages"]] == ["system", "user"]
    assert len(pred.spans) == 2


def test_details_and_parse_counts(demo_store, query_sentences, llm_cache, embedder):
    answers = {
        query_sentences[0].text: '[{"text": "ZnO", "label": "MATERIAL"}, {"text": "CdTe", "label": "MAT"}]',
        query_sentences[1].text: "",
        query_sentences[2].text: "no entities here, sorry",
    }
    p = make(FakeChatModel(answers), llm_cache, embedder)
    preds = p.predict(demo_store, query_sentences)
    d0 = preds[0].details
    assert d0["raw"] == answers[query_sentences[0].text]
    assert d0["parse"]["invented_labels"] == 1 and d0["parse"]["ungrounded"] == 1
    assert preds[0].spans == ()
    assert preds[1].details["parse"]["unparseable"] == 1
    assert preds[2].details["parse"]["unparseable"] == 1
    assert p.last_run["unparseable"] == 2 and p.last_run["invented_labels"] == 1 and p.last_run["ungrounded"] == 1
    s = p.ledger.summary()
    assert s["parse"]["unparseable"] == 2 and s["parse"]["invented_labels"] == 1 and s["parse"]["ungrounded"] == 1
    assert "2 unparseable" in p.ledger.line()


def test_rerun_makes_zero_calls(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    first = make(model, llm_cache, embedder).predict(demo_store, query_sentences)
    assert len(model.calls) == 3
    again = make(model, llm_cache, embedder)
    second = again.predict(demo_store, query_sentences)
    assert len(model.calls) == 3
    assert again.ledger.calls == 0 and again.ledger.cache_hits == 3
    assert [p.spans for p in first] == [p.spans for p in second]
    assert all(p.details["cached"] for p in second)


def test_cache_key_depends_on_prompt_and_sampling(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    make(model, llm_cache, embedder).predict(demo_store, query_sentences[:1])
    make(model, llm_cache, embedder, k=2).predict(demo_store, query_sentences[:1])  # other demos
    make(model, llm_cache, embedder, temperature=0.3).predict(demo_store, query_sentences[:1])
    make(model, llm_cache, embedder, max_tokens=99).predict(demo_store, query_sentences[:1])
    assert len(model.calls) == 4
    other = FakeChatModel(GOOD, name="other-model")
    make(other, llm_cache, embedder).predict(demo_store, query_sentences[:1])
    assert len(other.calls) == 1


def test_errors_fail_one_sentence_not_the_batch_and_are_not_cached(demo_store, query_sentences, llm_cache, embedder):
    bad = query_sentences[1].text

    def answer(query, params):
        if query == bad and not answer.healed:
            raise LlmRequestError("server fell over", kind="server_error")
        return GOOD[query]

    answer.healed = False
    model = FakeChatModel({q.text: answer for q in query_sentences})
    p = make(model, llm_cache, embedder)
    preds = p.predict(demo_store, query_sentences)
    assert preds[1].error == "server fell over" and preds[1].spans == ()
    assert preds[1].details["error_kind"] == "server_error" and math.isnan(preds[1].uncertainty)
    assert preds[0].error is None and preds[2].error is None and preds[0].spans
    assert len(llm_cache) == 2
    answer.healed = True
    calls = len(model.calls)
    fixed = p.retry_failed(demo_store, query_sentences, preds)
    assert len(model.calls) == calls + 1  # only the failed one
    assert all(x.error is None for x in fixed) and fixed[1].spans
    # Re-running everything costs nothing more: all answers are cached now.
    p.predict(demo_store, query_sentences)
    assert len(model.calls) == calls + 1


def test_concurrency_is_bounded(demo_store, demo_sentences, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    model.delay = 0.05
    sentences = query_sentences + demo_sentences
    make(model, llm_cache, embedder, concurrency=2).predict(demo_store, sentences)
    assert model.max_in_flight == 2
    model2 = FakeChatModel(GOOD, name="m2")
    model2.delay = 0.05
    make(model2, llm_cache, embedder, concurrency=1).predict(demo_store, sentences)
    assert model2.max_in_flight == 1


def test_progress_is_reported(demo_store, query_sentences, llm_cache, embedder):
    seen = []
    make(FakeChatModel(GOOD), llm_cache, embedder).predict(demo_store, query_sentences, progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (3, 3) and len(seen) == 3


def test_predict_works_inside_a_running_event_loop(demo_store, query_sentences, llm_cache, embedder):
    p = make(FakeChatModel(GOOD), llm_cache, embedder)

    async def notebook_cell():
        return p.predict(demo_store, query_sentences)  # sync call from async code, as in Jupyter

    preds = asyncio.run(notebook_cell())
    assert len(preds) == 3 and all(pr.spans for pr in preds)


def test_apredict_is_awaitable(demo_store, query_sentences, llm_cache, embedder):
    p = make(FakeChatModel(GOOD), llm_cache, embedder)
    preds = asyncio.run(p.apredict(demo_store, query_sentences))
    assert len(preds) == 3


def test_perplexity_from_logprobs(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD, logprobs=(-0.1, -0.3))
    preds = make(model, llm_cache, embedder, uncertainty="auto").predict(demo_store, query_sentences[:1])
    assert preds[0].uncertainty_kind == "perplexity"
    assert preds[0].uncertainty == pytest.approx(math.exp(0.2))
    assert len(model.calls) == 1 and model.calls[0]["logprobs"] is True


def test_disagreement_when_no_logprobs(demo_store, query_sentences, llm_cache, embedder):
    q = query_sentences[0].text
    a = GOOD[q]
    b = '[{"text": "ZnO", "label": "MAT"}]'

    def answer(query, params):
        if params["seed"] is None:
            return a  # the greedy answer
        return a if params["seed"] % 2 else b  # seeds 1..5: a, b, a, b, a

    model = FakeChatModel({q: answer})
    p = make(model, llm_cache, embedder, uncertainty="auto", n_samples=5, sample_temperature=0.9, seed=0)
    pred = p.predict(demo_store, query_sentences[:1])[0]
    assert pred.uncertainty_kind == "disagreement"
    assert pred.uncertainty == pytest.approx(1 - 3 / 5)
    assert len(model.calls) == 6
    samples = [c for c in model.calls if c["seed"] is not None]
    assert {c["temperature"] for c in samples} == {0.9} and len({c["seed"] for c in samples}) == 5
    assert pred.details["samples"]["agree_with_prediction"] == 3
    # The samples are cached too: a rerun makes no calls and gives the same value.
    again = make(model, llm_cache, embedder, uncertainty="auto", n_samples=5, sample_temperature=0.9, seed=0)
    assert again.predict(demo_store, query_sentences[:1])[0].uncertainty == pred.uncertainty
    assert len(model.calls) == 6


def test_uncertainty_none_asks_nothing_extra(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD, logprobs=(-0.1,))
    pred = make(model, llm_cache, embedder, uncertainty="none").predict(demo_store, query_sentences[:1])[0]
    assert pred.uncertainty_kind == "none" and math.isnan(pred.uncertainty)
    assert len(model.calls) == 1 and model.calls[0]["logprobs"] is False


def test_uncertainty_helpers():
    assert perplexity([0.0, 0.0]) == 1.0
    assert perplexity([-1.0]) == pytest.approx(math.e)
    s1, s2 = frozenset({(0, 3, "MAT")}), frozenset()
    assert disagreement([s1, s1, s1]) == 0.0
    assert disagreement([s1, s1, s2, s2, s1]) == pytest.approx(0.4)


def test_json_mode_model_gets_object_prompts(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel({query_sentences[0].text: '{"entities": [{"text": "ZnO", "label": "MAT"}]}'}, json_mode=True)
    pred = make(model, llm_cache, embedder).predict(demo_store, query_sentences[:1])[0]
    assert [sp.text for sp in pred.spans] == ["ZnO"]
    assert json.loads(pred.details["messages"][2]["content"]).keys() == {"entities"}
    assert model.calls[0]["json_mode"] is True


def test_plain_callable_is_a_model(demo_store, query_sentences, llm_cache, embedder):
    seen = []

    def fake(prompts):
        seen.extend(prompts)
        return ['[{"text": "ZnO", "label": "MAT"}]' for _ in prompts]

    p = make(fake, llm_cache, embedder)
    assert isinstance(p.model, CallableModel)
    pred = p.predict(demo_store, query_sentences[:1])[0]
    assert [sp.text for sp in pred.spans] == ["ZnO"] and len(seen) == 1


def test_cost_estimate_before_and_after(demo_store, query_sentences, llm_cache, embedder):
    ledger = Ledger(Prices(1.0, 2.0))
    p = make(FakeChatModel(GOOD), llm_cache, embedder, ledger=ledger)
    p.predict(demo_store, query_sentences)
    s = ledger.summary()
    assert s["estimate"]["requests"] == 3 and s["estimate"]["prompt_tokens"] > 0
    assert s["estimate"]["cost_usd"] > 0
    assert s["cost_usd"] == pytest.approx((300 * 1.0 + 30 * 2.0) / 1e6)
    assert "cost $" in ledger.line() and "estimated $" in ledger.line()
    # Everything cached: the next run's estimate is zero requests.
    p.predict(demo_store, query_sentences)
    assert ledger.summary()["estimate"]["requests"] == 0


def test_every_parameter_is_used(demo_store, query_sentences, llm_cache, embedder):
    model = FakeChatModel(GOOD)
    p = make(model, llm_cache, embedder, k=1, temperature=0.2, max_tokens=77, prompt_version="ner.v1")
    pred = p.predict(demo_store, query_sentences[:1])[0]
    assert len(pred.demonstrations) == 1
    assert model.calls[0]["temperature"] == 0.2 and model.calls[0]["max_tokens"] == 77


def test_bad_settings_are_refused(llm_cache, embedder):
    with pytest.raises(ConfigError):
        make(FakeChatModel(), llm_cache, embedder, concurrency=0)
    with pytest.raises(ConfigError):
        make(FakeChatModel(), llm_cache, embedder, uncertainty="vibes")
    with pytest.raises(ConfigError):
        make(FakeChatModel(), llm_cache, embedder, uncertainty="disagreement", n_samples=1)
    with pytest.raises(ConfigError):
        LlmPredictor(FakeChatModel(), [], embedder=embedder, cache=False)


def test_repeated_sentences_are_asked_once(demo_store, query_sentences, llm_cache, embedder):
    from dataclasses import replace as dc_replace

    model = FakeChatModel(GOOD)
    model.delay = 0.05
    twins = [dc_replace(query_sentences[0], id=f"copy{i}") for i in range(4)]
    p = make(model, llm_cache, embedder, concurrency=4)
    preds = p.predict(demo_store, twins)
    assert len(model.calls) == 1 and p.ledger.cache_hits == 3
    assert len({pr.spans for pr in preds}) == 1 and preds[0].spans
