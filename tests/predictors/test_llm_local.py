"""The whole LLM path against the real local llama.cpp server with
SmolLM2-135M: retrieval -> prompt -> server -> parse -> ground -> BIO ->
seqeval, then a rerun from the cache. SmolLM2-135M is tiny: the quality of
its answers is not the point, the path is."""

from __future__ import annotations

import math

import pytest
from fakes import DEMOS, LABELS, QUERIES, HashEmbedder, make_sentence

from allabel_core.predictors.ledger import Ledger
from allabel_core.predictors.cache import LlmCache
from allabel_core.predictors.base import DemoStore
from allabel_core.predictors.llm import LlmPredictor, with_suggestions
from allabel_core.scoring import evaluate


@pytest.fixture
def store_and_queries():
    embedder = HashEmbedder()
    store = DemoStore.from_sentences([make_sentence(*d) for d in DEMOS], embedder)
    return embedder, store, [make_sentence(*q) for q in QUERIES]


@pytest.mark.llm
def test_server_identity_and_capabilities(local_llm):
    model = local_llm.client(timeout=120)
    assert local_llm.model in model.check()
    assert model.describe() == f"SmolLM2-135M-Instruct at {local_llm.base_url}"
    answer = model([[{"role": "user", "content": 'Answer with the JSON object {"ok": true}.'}]], max_tokens=16)
    assert isinstance(answer[0], str)
    assert model.supports["json_mode"] is True  # llama.cpp accepts response_format json_object


@pytest.mark.llm
def test_whole_path_and_cached_rerun(local_llm, store_and_queries, tmp_path):
    embedder, store, queries = store_and_queries
    cache = LlmCache(tmp_path / "llm_cache.sqlite")
    ledger = Ledger()
    p = LlmPredictor(
        local_llm.client(timeout=120, max_retries=1),
        LABELS,
        embedder=embedder,
        k=3,
        concurrency=2,
        max_tokens=64,
        uncertainty="auto",
        cache=cache,
        ledger=ledger,
    )
    assert p.name == f"LLM: SmolLM2-135M-Instruct at {local_llm.base_url}"
    preds = p.predict(store, queries)
    assert [pr.sentence_id for pr in preds] == [q.id for q in queries]
    assert all(pr.error is None for pr in preds), [pr.error for pr in preds]
    for pr in preds:
        assert len(pr.demonstrations) == 3 and list(pr.similarities) == sorted(pr.similarities)
        assert isinstance(pr.details["raw"], str) and pr.details["parse"]["answers"] == 1
        assert pr.uncertainty_kind == "perplexity" and math.isfinite(pr.uncertainty) and pr.uncertainty >= 1.0
        for sp in pr.spans:
            q = next(x for x in queries if x.id == pr.sentence_id)
            assert q.text[sp.start : sp.end] == sp.text and sp.label in LABELS
    gold = [q.tags() for q in queries]
    pred = [with_suggestions(q, pr).tags() for q, pr in zip(queries, preds)]
    scores = evaluate(gold, pred)
    assert 0.0 <= scores.f1 <= 1.0
    first = ledger.summary()
    assert first["calls"] >= 3 and first["prompt_tokens"] > 0 and first["completion_tokens"] > 0
    assert p.model.supports["logprobs"] is True

    again = LlmPredictor(
        local_llm.client(timeout=120), LABELS, embedder=embedder, k=3, max_tokens=64, uncertainty="auto", cache=cache
    )
    preds2 = again.predict(store, queries)
    assert again.ledger.calls == 0 and again.ledger.cache_hits == 3
    assert [pr.spans for pr in preds2] == [pr.spans for pr in preds]
    assert [pr.uncertainty for pr in preds2] == [pr.uncertainty for pr in preds]


def test_a_server_that_cannot_start_says_why(tmp_path):
    from allabel_core.predictors import local_server as ll

    if ll.unavailable_reason():
        pytest.skip(f"local LLM not installed ({ll.unavailable_reason()})")
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"GGUF but not really")
    with pytest.raises(RuntimeError, match="llama_cpp.server exited"):
        ll.start_server(model_path=bad, timeout=60)


def test_install_state_is_reported():
    from allabel_core.predictors import local_server as ll

    reason = ll.unavailable_reason()
    if reason is None:
        assert ll.find_gguf().is_file() and ll.find_gguf().suffix == ".gguf"
    else:
        assert isinstance(reason, str) and reason
    port = ll.free_port()
    assert 0 < port < 65536
