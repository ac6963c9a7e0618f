"""The /v1/embeddings backend against a local fake server (127.0.0.1)."""

import numpy as np
import pytest

from allabel_core.errors import ConfigError, LlmRequestError
from allabel_core.vectors.embed import VectorCache
from allabel_core.vectors.remote import RemoteEmbedder, build_embedder, embedder_identity


def unit(v):
    return v / np.linalg.norm(v)


@pytest.fixture
def cache(tmp_path):
    return VectorCache(tmp_path / "vec.sqlite")


def make(server, cache, **kw):
    kw.setdefault("max_retries", 3)
    emb = RemoteEmbedder(server.url, "embed-model", cache=cache, **kw)
    emb.endpoint.backoff = 0.01
    return emb


TEXTS = [f"sentence number {i} about alloys" for i in range(23)]


def test_vectors_are_the_servers_normalised_in_order(fault_server, cache):
    emb = make(fault_server, cache, batch_size=5, concurrency=3)
    seen = []
    vecs = emb.encode(TEXTS, progress=lambda d, t: seen.append((d, t)))
    assert vecs.shape == (23, 16) and vecs.dtype == np.float32
    for t, v in zip(TEXTS, vecs):
        assert np.allclose(v, unit(fault_server.vector_for(t)), atol=1e-6)
    sizes = [len(r["body"]["input"]) for r in fault_server.embedding_requests()[1:]]  # after the probe
    assert sorted(sizes) == [3, 5, 5, 5, 5]
    assert all(r["body"]["model"] == "embed-model" for r in fault_server.embedding_requests())
    assert seen[0] == (0, 23) and seen[-1] == (23, 23)
    assert emb.identity() == "openai:embed-model:16"


def test_a_corpus_is_never_embedded_twice(fault_server, cache):
    make(fault_server, cache, batch_size=8).encode(TEXTS)
    before = len(fault_server.embedding_requests())
    again = make(fault_server, cache, batch_size=8)  # a new process, say: same cache file
    vecs = again.encode(TEXTS + [TEXTS[0]])
    assert len(fault_server.embedding_requests()) == before + 1  # only the new instance's probe
    assert np.array_equal(vecs[0], vecs[-1])


def test_another_served_model_does_not_reuse_the_vectors(fault_server, cache):
    make(fault_server, cache).encode(TEXTS[:4])
    fault_server.embed_model = "other-model"
    other = make(fault_server, cache)
    n = len(fault_server.embedding_requests())
    other.encode(TEXTS[:4])
    assert len(fault_server.embedding_requests()) == n + 2  # probe + the 4 texts again
    assert other.identity() == "openai:other-model:16"
    assert embedder_identity(other) == other.identity()


def test_retries_rate_limits_and_bad_answers_then_succeeds(fault_server, cache):
    emb = make(fault_server, cache, batch_size=50, max_retries=4)
    emb.dim  # the probe goes first
    fault_server.push(("garbage",), ("rate_limit", "0"), ("status", 503, {}, {"error": {"message": "busy"}}), ("wrong_count",))
    vecs = emb.encode(TEXTS)
    assert np.allclose(vecs[3], unit(fault_server.vector_for(TEXTS[3])), atol=1e-6)
    assert emb.ledger.retries == 4 and emb.ledger.errors["rate_limit"] == 1 and emb.ledger.errors["bad_response"] == 2


def test_a_failure_is_an_error_not_empty_vectors_and_answered_batches_stay(fault_server, cache):
    emb = make(fault_server, cache, batch_size=5, concurrency=1, max_retries=1)
    emb.dim
    fault_server.on(TEXTS[20], ("status", 500, {}, {"error": {"message": "boom"}}), ("status", 500, {}, {"error": {"message": "boom"}}))
    with pytest.raises(LlmRequestError, match="HTTP 500"):
        emb.encode(TEXTS)
    n = len(fault_server.embedding_requests())
    vecs = emb.encode(TEXTS)  # resumes: only the failed batch is sent again
    assert len(fault_server.embedding_requests()) == n + 1
    assert np.allclose(vecs[22], unit(fault_server.vector_for(TEXTS[22])), atol=1e-6)


def test_the_key_never_shows_in_a_message(fault_server, cache):
    secret = "sk-remote-embed-secret-123456"
    emb = RemoteEmbedder(fault_server.url, "embed-model", api_key=secret, cache=cache, max_retries=0)
    fault_server.push(("echo_auth", 401))
    with pytest.raises(LlmRequestError) as info:
        emb.encode(["x"])
    assert secret not in str(info.value) and "refused the API key" in str(info.value)
    assert secret not in repr(emb) and secret not in repr(emb.endpoint)


def test_requests_run_concurrently(fault_server, cache):
    fault_server.embed_delay = 0.05
    emb = make(fault_server, cache, batch_size=2, concurrency=4)
    emb.encode(TEXTS[:16])
    assert fault_server.max_in_flight >= 3


def test_build_embedder_checks_its_options(fault_server, cache):
    with pytest.raises(ConfigError, match="base URL"):
        build_embedder("openai", model="m")
    with pytest.raises(ConfigError, match="model name"):
        build_embedder("openai", base_url=fault_server.url)
    with pytest.raises(ConfigError, match="unknown embedder"):
        build_embedder("remote")
    emb = build_embedder("openai", base_url=fault_server.url, model="m", cache=cache, batch_size=3, concurrency=2)
    assert isinstance(emb, RemoteEmbedder) and emb.batch_size == 3 and emb.concurrency == 2


def test_unreachable_server_says_so(cache):
    emb = RemoteEmbedder("http://127.0.0.1:8599/v1", "m", cache=cache, max_retries=0, timeout=2)
    with pytest.raises(LlmRequestError, match="could not reach"):
        emb.encode(["x"])
