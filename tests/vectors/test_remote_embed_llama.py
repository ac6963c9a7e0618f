"""The /v1/embeddings backend against a real server: llama.cpp in embedding
mode with the bundled GGUF (skipped, with the reason, where it is missing)."""

import socket

import numpy as np
import pytest

pytestmark = pytest.mark.llm


def _port() -> int:
    for port in range(8590, 8600):  # this suite's own range
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8590-8599")


@pytest.fixture(scope="module")
def llama_embed():
    from allabel_core.predictors import local_server as ll

    reason = ll.unavailable_reason()
    if reason:
        pytest.skip(f"llama.cpp server not installed ({reason}): run `make local-llm`")
    handle = ll.start_server(_port(), embedding=True, logits_all=False)
    yield handle
    handle.stop()


def test_llama_cpp_embeddings(llama_embed, tmp_path):
    from allabel_core.vectors.embed import VectorCache
    from allabel_core.vectors.remote import RemoteEmbedder

    emb = RemoteEmbedder(llama_embed.base_url, llama_embed.model, cache=VectorCache(tmp_path / "v.sqlite"),
                         batch_size=3, concurrency=2, timeout=120)
    texts = ["TiO2 thin films were annealed at 500 C.", "The band gap of ZnO is 3.3 eV.",
             "TiO2 thin films were annealed at 500 C.", "Graphene shows high electron mobility.",
             "Perovskite solar cells degrade in humid air."]
    vecs = emb.encode(texts)
    assert vecs.shape[0] == 5 and vecs.shape[1] >= 64
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert np.array_equal(vecs[0], vecs[2])
    assert not np.allclose(vecs[0], vecs[1])
    assert emb.identity().startswith("openai:") and emb.identity().endswith(f":{vecs.shape[1]}")
    calls = emb.ledger.calls
    assert np.array_equal(emb.encode(texts), vecs) and emb.ledger.calls == calls  # all cached
