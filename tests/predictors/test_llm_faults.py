"""OpenAICompatible and LlmPredictor against a real, fault-injecting HTTP
server on 127.0.0.1: retries, timeouts, broken answers, JSON-mode fallback,
and an API key that never leaks."""

from __future__ import annotations

import json
import random
import time

import pytest
from fakes import LABELS

from allabel_core.errors import ConfigError
from allabel_core.predictors.ledger import Ledger
from allabel_core.predictors.cache import LlmCache
from allabel_core.predictors.llm import LlmPredictor, LlmRequestError, OpenAICompatible

SECRET = "sk-test-0123456789abcdefSECRET"
ANSWER = '[{"text": "ZnO", "label": "MAT"}]'


def model(server, **kw):
    kw.setdefault("timeout", 0.5)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_retries", 3)
    kw.setdefault("rng", random.Random(0))
    return OpenAICompatible(server.url, "fault-model", kw.pop("api_key", SECRET), **kw)


def predictor(server, cache, embedder, **kw):
    m = kw.pop("model", None) or model(server, **{k: kw.pop(k) for k in list(kw) if k in ("timeout", "max_retries", "json_mode", "logprobs")})
    kw.setdefault("uncertainty", "none")
    return LlmPredictor(m, LABELS, embedder=embedder, cache=cache, **kw)


def test_configured_base_url_is_the_one_used(fault_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # must not win over the argument
    fault_server.push(("ok", ANSWER))
    m = model(fault_server, json_mode=False, logprobs=False)
    assert m([[{"role": "user", "content": "hi"}]]) == [ANSWER]
    reqs = fault_server.chat_requests()
    assert len(reqs) == 1 and reqs[0]["path"] == "/v1/chat/completions"
    assert reqs[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert reqs[0]["body"]["model"] == "fault-model"
    assert m.describe() == f"fault-model at {fault_server.url}"


def test_environment_defaults(fault_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fault_server.url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    m = OpenAICompatible(model="fault-model", json_mode=False, logprobs=False)
    assert m.base_url == fault_server.url
    m([[{"role": "user", "content": "hi"}]])
    assert fault_server.chat_requests()[0]["headers"]["authorization"] == "Bearer not-needed"
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert "SECRET" not in repr(OpenAICompatible(model="m"))


def test_429_with_retry_after_is_honoured(fault_server):
    fault_server.push(("rate_limit", 1), ("ok", ANSWER))
    ledger = Ledger()
    m = model(fault_server, json_mode=False, logprobs=False)
    t0 = time.monotonic()
    assert m([[{"role": "user", "content": "hi"}]], ledger=ledger) == [ANSWER]
    reqs = fault_server.chat_requests()
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.95
    assert time.monotonic() - t0 < 5
    assert ledger.retries == 1 and ledger.errors["rate_limit"] == 1 and ledger.answers == 1


def test_server_errors_are_retried_a_bounded_number_of_times(fault_server):
    fault_server.push(*[("status", 500, {}, {"error": {"message": "boom"}})] * 10)
    ledger = Ledger()
    m = model(fault_server, json_mode=False, logprobs=False, max_retries=2)
    with pytest.raises(LlmRequestError) as info:
        m([[{"role": "user", "content": "hi"}]], ledger=ledger)
    assert info.value.kind == "server_error" and info.value.status == 500
    assert len(fault_server.chat_requests()) == 3
    assert ledger.calls == 3 and ledger.retries == 2 and ledger.failures == 1


@pytest.mark.parametrize(
    "fault,kind",
    [(("hang", 3), "timeout"), (("truncated",), "connection"), (("garbage",), "bad_response"), (("drop",), "connection")],
)
def test_each_fault_ends_in_a_typed_error(fault_server, fault, kind):
    fault_server.push(*[fault] * 5)
    # Only the hang needs a short deadline; the others answer at once, and a
    # deadline as short on a busy machine could turn their fault into a timeout.
    timeout = 0.5 if kind == "timeout" else 5.0
    m = model(fault_server, json_mode=False, logprobs=False, max_retries=1, timeout=timeout)
    t0 = time.monotonic()
    with pytest.raises(LlmRequestError) as info:
        m([[{"role": "user", "content": "hi"}]])
    assert info.value.kind == kind
    assert fault_server.url in str(info.value)
    assert time.monotonic() - t0 < 2 * timeout + 2  # two attempts within the deadline each, plus backoff
    assert len(fault_server.chat_requests()) == 2


def test_client_errors_are_not_retried(fault_server):
    fault_server.push(("status", 404, {}, {"error": {"message": "no such model"}}))
    m = model(fault_server, json_mode=False, logprobs=False)
    with pytest.raises(LlmRequestError, match="no model 'fault-model'") as info:
        m([[{"role": "user", "content": "hi"}]])
    assert info.value.kind == "not_found" and len(fault_server.chat_requests()) == 1


def test_connection_refused_says_so():
    m = OpenAICompatible("http://127.0.0.1:9/v1", "m", max_retries=0, json_mode=False)
    with pytest.raises(LlmRequestError, match=r"^could not reach http://127.0.0.1:9/v1: is the server running\?$"):
        m.check(timeout=1)
    with pytest.raises(LlmRequestError, match="could not reach"):
        m([[{"role": "user", "content": "hi"}]])


def test_check_lists_models(fault_server):
    assert model(fault_server).check() == ["fault-model"]


def test_batch_survives_mixed_faults(fault_server, demo_store, query_sentences, demo_sentences, llm_cache, embedder):
    q = [s.text for s in query_sentences]
    fault_server.on(q[0], ("rate_limit", 0), ("status", 503, {}, {}), ("ok", ANSWER))
    fault_server.on(q[1], *[("hang", 3)] * 3)  # times out on all three attempts
    fault_server.on(q[2], ("garbage",), ("ok", '```json\n[{"text": "TiO2", "label": "MAT"}]\n```'))
    sentences = query_sentences + demo_sentences[:3]
    p = predictor(fault_server, llm_cache, embedder, json_mode=False, logprobs=False, max_retries=2, timeout=0.5)
    preds = p.predict(demo_store, sentences)
    assert len(preds) == 6
    assert [sp.text for sp in preds[0].spans] == ["ZnO"]
    assert preds[1].error and "did not answer within 0.5 s" in preds[1].error and preds[1].spans == ()
    assert [sp.text for sp in preds[2].spans] == ["TiO2"]
    assert all(pr.error is None for i, pr in enumerate(preds) if i != 1)
    s = p.ledger.summary()
    assert s["errors"] == {"rate_limit": 1, "server_error": 1, "timeout": 3, "bad_response": 1}
    assert s["failures"] == 1 and s["retries"] == 5 and s["answers"] == 5
    assert s["calls"] == len(fault_server.chat_requests()) == 11
    # Run again: the five answers come from the cache; only the failed one is asked.
    fault_server.on(q[1], ("ok", '[{"text": "capacity", "label": "PRO"}]'))
    before = len(fault_server.chat_requests())
    again = predictor(fault_server, llm_cache, embedder, json_mode=False, logprobs=False)
    preds2 = again.predict(demo_store, sentences)
    assert len(fault_server.chat_requests()) == before + 1
    assert again.ledger.cache_hits == 5 and [sp.text for sp in preds2[1].spans] == ["capacity"]


def test_concurrency_bound_holds_at_the_server(fault_server, demo_store, query_sentences, demo_sentences, llm_cache, embedder):
    fault_server.push(*[("slow", 0.15, "[]")] * 9)
    p = predictor(fault_server, llm_cache, embedder, json_mode=False, logprobs=False, concurrency=3)
    p.predict(demo_store, query_sentences + demo_sentences)
    assert fault_server.max_in_flight == 3


def test_json_mode_fallback_is_remembered(fault_server, demo_store, query_sentences, demo_sentences, llm_cache, embedder):
    fault_server.reject_json_mode = True
    fault_server.default_answer = lambda body: '{"entities": [{"text": "ZnO", "label": "MAT"}]}'
    p = predictor(fault_server, llm_cache, embedder, json_mode="auto", logprobs=False, concurrency=4)
    preds = p.predict(demo_store, query_sentences + demo_sentences)
    reqs = fault_server.chat_requests()
    with_rf = [r for r in reqs if "response_format" in r["body"]]
    assert len(with_rf) == 1  # one 400, then never asked again
    assert p.model.supports["json_mode"] is False
    assert p.ledger.fallbacks["json_mode"] == 1 and p.ledger.errors["bad_request"] == 1
    assert all(pr.error is None for pr in preds)
    assert [sp.text for sp in preds[0].spans] == ["ZnO"]
    assert "unsupported: json_mode" in p.ledger.line()


def test_json_mode_requested_where_accepted(fault_server, demo_store, query_sentences, llm_cache, embedder):
    fault_server.default_answer = lambda body: '{"entities": []}'
    p = predictor(fault_server, llm_cache, embedder, json_mode="auto", logprobs=False)
    p.predict(demo_store, query_sentences)
    assert all(r["body"]["response_format"] == {"type": "json_object"} for r in fault_server.chat_requests())
    assert p.model.supports["json_mode"] is True


def test_logprobs_give_perplexity(fault_server, demo_store, query_sentences, llm_cache, embedder):
    fault_server.logprobs = True
    fault_server.default_answer = lambda body: ANSWER
    p = predictor(fault_server, llm_cache, embedder, json_mode=False, uncertainty="auto")
    preds = p.predict(demo_store, query_sentences)
    assert all(pr.uncertainty_kind == "perplexity" and pr.uncertainty > 1 for pr in preds)
    assert all(r["body"]["logprobs"] is True for r in fault_server.chat_requests())
    assert len(fault_server.chat_requests()) == 3


def test_rejected_logprobs_fall_back_to_disagreement(fault_server, demo_store, query_sentences, llm_cache, embedder):
    fault_server.reject_logprobs = True
    fault_server.default_answer = lambda body: ANSWER
    p = predictor(fault_server, llm_cache, embedder, json_mode=False, uncertainty="auto", n_samples=3)
    preds = p.predict(demo_store, query_sentences[:2])
    assert all(pr.uncertainty_kind == "disagreement" and pr.uncertainty == 0.0 for pr in preds)
    assert p.model.supports["logprobs"] is False
    samples = [r for r in fault_server.chat_requests() if r["body"].get("seed") is not None]
    assert len(samples) == 6 and all(r["body"]["temperature"] == 0.7 for r in samples)


def test_api_key_never_leaks(fault_server, demo_store, query_sentences, tmp_path, embedder, capsys):
    q = [s.text for s in query_sentences]
    fault_server.on(q[0], ("echo_auth", 401))
    fault_server.on(q[1], ("echo_auth", 400))
    fault_server.default_answer = lambda body: ANSWER
    cache = LlmCache(tmp_path / "llm_cache.sqlite")
    m = model(fault_server, json_mode=False, logprobs=False)
    p = LlmPredictor(m, LABELS, embedder=embedder, cache=cache, uncertainty="none")
    preds = p.predict(demo_store, query_sentences)
    assert preds[0].error and preds[1].error and preds[2].error is None
    assert "[redacted]" in preds[1].error  # the server quoted the key; we did not
    cache.close()
    blobs = [f.read_bytes() for f in tmp_path.iterdir()]
    assert blobs and all(SECRET.encode() not in b for b in blobs)
    texts = [
        repr(m), str(m.__dict__), m.describe(), json.dumps(p.params()), json.dumps(p.ledger.summary()), p.ledger.line(),
        repr(preds), str(p.params()), repr(p), *(pr.error for pr in preds if pr.error),
    ]
    assert all(SECRET not in t for t in texts)
    with pytest.raises(LlmRequestError) as info:
        fault_server.push(("echo_auth", 401))
        m([[{"role": "user", "content": "x"}]])
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(m._key)


def test_credentials_in_the_url_are_not_shown(fault_server):
    url = fault_server.url.replace("http://", "http://user:pa55word@")
    m = OpenAICompatible(url, "fault-model")
    assert "pa55word" not in m.describe() and "pa55word" not in repr(m)
    assert m.base_url == fault_server.url


def test_bad_model_settings_are_refused(fault_server):
    with pytest.raises(ConfigError):
        OpenAICompatible(fault_server.url, "")
    with pytest.raises(ConfigError):
        OpenAICompatible(fault_server.url, "m", json_mode="maybe")
    with pytest.raises(ConfigError):
        OpenAICompatible(fault_server.url, "m", timeout=0)


def test_refused_json_mode_is_remembered_for_the_endpoint(fault_server):
    fault_server.reject_json_mode = True
    fault_server.default_answer = lambda body: "[]"
    first = model(fault_server, logprobs=False)
    first([[{"role": "user", "content": "a"}]])
    second = model(fault_server, logprobs=False)  # a new client for the same endpoint
    assert second.supports["json_mode"] is False
    second([[{"role": "user", "content": "b"}]])
    assert sum("response_format" in r["body"] for r in fault_server.chat_requests()) == 1
