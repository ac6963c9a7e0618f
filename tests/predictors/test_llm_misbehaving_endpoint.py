"""An endpoint that misbehaves costs time and a counted error, never a silent
wrong answer: the LLM path against the fault-injecting server on 127.0.0.1.

Concurrency is measured at the server (requests being answered at once), the
deadline against a server that trickles its answer a byte at a time."""

from __future__ import annotations

import json
import random
import time

import pytest
from fakes import LABELS, make_sentence

from allabel_core.errors import ConfigError
from allabel_core.predictors.cache import LlmCache
from allabel_core.predictors.ledger import Ledger
from allabel_core.predictors.llm import LlmPredictor, LlmRequestError, OpenAICompatible

ANSWER = '[{"text": "ZnO", "label": "MAT"}]'
OBJ = '{"entities": []}'


def model(server, **kw):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_retries", 2)
    kw.setdefault("rng", random.Random(0))
    return OpenAICompatible(server.url, "fault-model", kw.pop("api_key", "sk-misbehave-0123456789abcdef"), **kw)


def predictor(server, cache, embedder, *, model_kw=None, **kw):
    kw.setdefault("uncertainty", "none")
    return LlmPredictor(model(server, **(model_kw or {})), LABELS, embedder=embedder, cache=cache, **kw)


def sentences(n: int):
    return [make_sentence(f"s{i}", f"Sample {i} was a TiO2 film annealed at {100 + i} C.", []) for i in range(n)]


def msg(text="hi"):
    return [[{"role": "user", "content": text}]]


# -- 1. the JSON-mode probe serialises nothing ---------------------------------


def test_json_mode_probe_keeps_every_slot_busy(fault_server, demo_store, llm_cache, embedder):
    fault_server.push(*[("slow", 0.8, OBJ)] * 16)
    p = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": "auto", "logprobs": False}, concurrency=8)
    preds = p.predict(demo_store, sentences(16))
    assert fault_server.max_in_flight == 8  # the default json_mode="auto" no longer queues behind the probe
    assert all(pr.error is None and pr.outcome == "ok" for pr in preds)
    assert all(r["body"]["response_format"] == {"type": "json_object"} for r in fault_server.chat_requests())
    assert p.model.supports["json_mode"] is True


def test_a_failing_probe_holds_nobody_through_its_retries(fault_server, demo_store, llm_cache, embedder):
    fault_server.push(*[("after", 0.6, ("status", 500, {}, {"error": {"message": "boom"}}))] * 12)
    p = predictor(
        fault_server, llm_cache, embedder, model_kw={"json_mode": "auto", "logprobs": False, "max_retries": 2}, concurrency=4
    )
    preds = p.predict(demo_store, sentences(4))
    assert fault_server.max_in_flight == 4
    assert len(fault_server.chat_requests()) == 12
    assert [pr.error_kind for pr in preds] == ["server_error"] * 4


def test_a_hung_probe_holds_the_others_for_a_moment_at_most(fault_server, demo_store, llm_cache, embedder):
    todo = sentences(4)
    fault_server.on(todo[0].text, ("hang", 6))
    fault_server.default_answer = lambda body: OBJ
    p = predictor(
        fault_server, llm_cache, embedder, model_kw={"json_mode": "auto", "logprobs": False, "timeout": 5, "max_retries": 0},
        concurrency=4,
    )
    preds = p.predict(demo_store, todo)
    reqs = fault_server.chat_requests()
    hung = next(r for r in reqs if todo[0].text in r["body"]["messages"][-1]["content"])
    others = [r for r in reqs if r is not hung]
    # They were sent while the hung request was still unanswered (it gave up after 5 s).
    assert len(others) == 3 and all(r["time"] - hung["time"] < 4.0 for r in others)
    assert fault_server.max_in_flight >= 2
    assert preds[0].error and "did not answer within 5 s" in preds[0].error
    assert all(pr.error is None and pr.outcome == "ok" for pr in preds[1:])


def test_a_refused_json_mode_still_costs_one_400_at_full_concurrency(fault_server, demo_store, llm_cache, embedder):
    fault_server.reject_json_mode = True
    fault_server.default_answer = lambda body: ANSWER
    p = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": "auto", "logprobs": False}, concurrency=8)
    p.predict(demo_store, sentences(12))
    assert sum("response_format" in r["body"] for r in fault_server.chat_requests()) == 1
    assert p.model.supports["json_mode"] is False and p.ledger.fallbacks["json_mode"] == 1


# -- 2. the timeout is a deadline per attempt -----------------------------------


def test_timeout_is_a_total_deadline_against_a_trickling_server(fault_server):
    fault_server.push(("trickle", 0.05, ANSWER))  # ~300 bytes at 20 per second: 15 s
    m = model(fault_server, json_mode=False, logprobs=False, timeout=1.0, max_retries=0)
    t0 = time.monotonic()
    with pytest.raises(LlmRequestError, match=r"did not answer within 1 s") as info:
        m(msg())
    assert info.value.kind == "timeout"
    assert time.monotonic() - t0 < 3.0


def test_each_retry_gets_its_own_deadline(fault_server):
    fault_server.push(("trickle", 0.05, ANSWER), ("ok", ANSWER))
    ledger = Ledger()
    m = model(fault_server, json_mode=False, logprobs=False, timeout=1.0, max_retries=1)
    assert m(msg(), ledger=ledger) == [ANSWER]
    assert ledger.errors == {"timeout": 1} and ledger.retries == 1 and ledger.answers == 1


def test_the_endpoint_is_the_seam_for_any_request(fault_server):
    """Retries, the deadline and counting apply to whatever a client sends
    (an embeddings client will send its own request through the same layer)."""
    import asyncio

    from allabel_core.predictors.endpoint import Endpoint

    endpoint = Endpoint(fault_server.url, "k", timeout=0.3, max_retries=2, backoff=0.01)
    calls = []

    async def slow(client):
        calls.append(client)
        await asyncio.sleep(5)

    async def run():
        try:
            return await endpoint.send(slow, ledger=ledger)
        finally:
            await endpoint.aclose()

    ledger = Ledger()
    with pytest.raises(LlmRequestError, match="did not answer within 0.3 s"):
        asyncio.run(run())
    assert len(calls) == 3 and ledger.errors == {"timeout": 3} and ledger.failures == 1


# -- 3. every record carries its outcome; failures are counted apart ------------
# -- 4. only answers that were read are cached; a cut answer is retried once ----


def test_outcomes_are_recorded_and_only_ok_answers_cached(fault_server, demo_store, query_sentences, llm_cache, embedder):
    q = [s.text for s in query_sentences]
    cut = '[{"text": "ZnO", "label": "MAT"}, {"text": "sol'
    fault_server.on(q[0], ("length", cut), ("length", cut))
    fault_server.on(q[1], ("ok", "I am sorry, I cannot find entities."))
    fault_server.on(q[2], ("status", 500, {}, {"error": {"message": "boom"}}))
    fault_server.default_answer = lambda body: '[{"text": "TiO2", "label": "MAT"}]'
    p = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": False, "logprobs": False, "max_retries": 0})
    preds = p.predict(demo_store, [*query_sentences, make_sentence("ok", "TiO2 was used.", [])])
    assert [pr.outcome for pr in preds] == ["truncated", "unparseable", "failed", "ok"]
    assert preds[2].error_kind == "server_error" and preds[0].error_kind is None
    assert [sp.text for sp in preds[0].spans] == ["ZnO"]  # what could be read, flagged as truncated
    first = [r for r in fault_server.chat_requests() if q[0] in r["body"]["messages"][-1]["content"]]
    assert [r["body"]["max_tokens"] for r in first] == [256, 512]  # retried once, with room to finish
    assert len(llm_cache) == 1  # only the answer that was read
    assert p.ledger.outcomes == {"ok": 1, "truncated": 1, "unparseable": 1, "failed": 1}
    line = p.ledger.line()
    assert "sentences: 1 ok, 1 failed, 1 truncated, 1 unparseable" in line
    # Running again asks exactly the three that did not succeed.
    before = len(fault_server.chat_requests())
    again = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": False, "logprobs": False})
    again.predict(demo_store, [*query_sentences, make_sentence("ok", "TiO2 was used.", [])])
    assert again.ledger.cache_hits == 1 and len(fault_server.chat_requests()) == before + 3


@pytest.mark.parametrize(
    "reply,items,cut",
    [
        ('{"entities": [{"text": "TiO2", "label": "MAT"}, {"te', [("TiO2", "MAT")], True),
        ('[{"text": "ZnO", "label": "MAT"}, {"text": "sol', [("ZnO", "MAT")], True),
        ('{"entities": [', [], True),
        ('[{"text": "ZnO", "label": "MAT"}]', [("ZnO", "MAT")], False),
        ("I think [the answer is none", [], False),  # a stray bracket in prose is not a cut answer
    ],
)
def test_a_reply_cut_short_is_told_from_one_that_is_not(reply, items, cut):
    from allabel_core.predictors.parse import parse_and_ground, parse_answer

    parsed = parse_answer(reply)
    assert list(parsed.items) == items and parsed.cut is cut
    _, g = parse_and_ground(reply, make_sentence("s", "TiO2 and ZnO by sol-gel.", []), LABELS)
    assert g.counts["truncated"] == int(cut) and g.counts["unparseable"] == int(not cut and not parsed.ok)


def test_a_cut_answer_that_completes_with_more_room_is_cached_for_the_rerun(fault_server, demo_store, query_sentences, llm_cache, embedder):
    fault_server.push(("ok", '[{"text": "ZnO", "label": "MAT"}, {"text": "sol-g'), ("ok", '[{"text": "ZnO", "label": "MAT"}]'))
    p = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": False, "logprobs": False})
    (pred,) = p.predict(demo_store, query_sentences[:1])
    assert pred.outcome == "ok" and pred.details["first_answer"]["max_tokens"] == 256
    n = len(fault_server.chat_requests())
    assert n == 2
    again = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": False, "logprobs": False})
    (same,) = again.predict(demo_store, query_sentences[:1])
    assert len(fault_server.chat_requests()) == n and same.spans == pred.spans and same.outcome == "ok"


def test_a_broken_answer_cached_by_an_older_version_is_asked_again(fault_server, demo_store, query_sentences, llm_cache, embedder):
    p = predictor(fault_server, llm_cache, embedder, model_kw={"json_mode": False, "logprobs": False})
    (plan,) = p.render(demo_store, query_sentences[:1])
    llm_cache.put(plan.key, {"text": "[{\"text\": \"Zn", "finish_reason": "length"}, base_url="x", model="m", prompt_version="ner.v1")
    fault_server.push(("ok", ANSWER))
    (pred,) = p.predict(demo_store, query_sentences[:1])
    assert pred.outcome == "ok" and [sp.text for sp in pred.spans] == ["ZnO"]
    assert len(fault_server.chat_requests()) == 1


# -- 7. a key echoed by the server never reaches disk ---------------------------


def test_a_key_echoed_in_a_200_answer_is_scrubbed_from_everything_stored(fault_server, demo_store, query_sentences, tmp_path, embedder, monkeypatch):
    from allabel_core.project import Project

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    passed_key = "passed-only-key-5f1e9a7c3b"  # in no environment variable, never registered
    fault_server.default_answer = lambda body: ANSWER
    fault_server.push(("echo_key", ANSWER), ("echo_key", "[]"), ("echo_key", "nothing"))
    cache = LlmCache(tmp_path / "llm_cache.sqlite")
    p = LlmPredictor(
        OpenAICompatible(fault_server.url, "fault-model", passed_key, json_mode=False, logprobs=False),
        LABELS, embedder=embedder, cache=cache, uncertainty="none",
    )
    preds = p.predict(demo_store, query_sentences)
    assert sum(passed_key in json.dumps(pr.details) for pr in preds) == 0
    assert any("[redacted]" in pr.details["raw"] for pr in preds)
    project = Project.create(tmp_path / "p.allabel", query_sentences, schema={"labels": list(LABELS)})
    project.records.save_predictions(preds, p.name)
    project.records.log_ledger(model="fault-model", base_url=fault_server.url, details={"raw": preds[0].details["raw"]})
    project.close()
    cache.close()
    blobs = b"".join(f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
    assert blobs and passed_key.encode() not in blobs


# -- 8. the model name, the 401 message, an HTML page ---------------------------


def test_an_html_200_says_what_is_wrong_and_is_retried_once(fault_server):
    fault_server.push(*[("html",)] * 5)
    ledger = Ledger()
    m = model(fault_server, json_mode=False, logprobs=False, max_retries=4)
    with pytest.raises(LlmRequestError) as info:
        m(msg(), ledger=ledger)
    assert "the server answered HTML, not JSON — is the base URL right (it usually ends in /v1)?" in str(info.value)
    assert len(fault_server.chat_requests()) == 2 and ledger.retries == 1


def test_a_json_200_without_choices_is_still_retried_as_configured(fault_server):
    fault_server.push(*[("status", 200, {}, {"object": "nothing"})] * 5)
    m = model(fault_server, json_mode=False, logprobs=False, max_retries=3)
    with pytest.raises(LlmRequestError, match="no choices"):
        m(msg())
    assert len(fault_server.chat_requests()) == 4


def test_the_model_name_is_checked_against_the_server_list(fault_server):
    fault_server.models = ["llama3:latest", "qwen2.5:0.5b"]
    with pytest.raises(ConfigError, match=r"has no model 'fault-model'; it offers: llama3:latest, qwen2.5:0.5b"):
        model(fault_server).verify_model()
    assert OpenAICompatible(fault_server.url, "llama3").verify_model() == fault_server.models  # Ollama's :latest
    fault_server.models = None  # a server without the list: nothing to check against
    assert model(fault_server).verify_model() is None
    assert not fault_server.chat_requests()


def test_a_401_says_what_to_do_with_the_key(fault_server):
    fault_server.push(("echo_auth", 401))
    m = model(fault_server, json_mode=False, logprobs=False, key_hint="set $MY_KEY")
    with pytest.raises(LlmRequestError, match=r"refused the API key \(HTTP 401\): set \$MY_KEY$"):
        m(msg())


def test_a_truncated_answer_suggests_nothing_in_a_project(fault_server, tmp_path, embedder, demo_sentences, query_sentences):
    from allabel_core.data.corpus import Corpus
    from allabel_core.project import Project
    from allabel_core.project.predict import suggest_for

    cut = '[{"text": "ZnO", "label": "MAT"}, {"text": "sol'
    fault_server.push(("length", cut), ("length", cut), ("ok", ANSWER))
    project = Project.create(tmp_path / "p.allabel", Corpus(demo_sentences + query_sentences), schema=list(LABELS))
    try:
        p = predictor(fault_server, LlmCache(tmp_path / "c.sqlite"), embedder, model_kw={"json_mode": False, "logprobs": False})
        pred = suggest_for(project, "q1", p, embedder)
        assert pred.outcome == "truncated" and pred.spans  # what could be read, kept in the record...
        assert not project.labels.spans("q1")  # ...but never shown as a suggestion
        assert project.records.prediction("q1").outcome == "truncated"  # and stored with its outcome
        assert suggest_for(project, "q1", p, embedder).outcome == "ok" and project.labels.spans("q1")
    finally:
        project.close()
