"""Shared fixtures (the fakes they build on are in fakes.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes import DEMOS, QUERIES, HashEmbedder, make_sentence

from allabel_core.data.sentence import Sentence
from allabel_core.predictors.base import DemoStore
from allabel_core.predictors.cache import LlmCache

# ``../shared/datasets`` next to the checkout; ALLABEL_DATASETS points elsewhere
# (a git worktree lives one folder deeper than the main checkout).
SHARED_DATASETS = Path(os.environ.get("ALLABEL_DATASETS") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` (MatScholar, BC5CDR, WNUT-17 as JSONL tokens/tags)."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


# -- LLM tests -----------------------------------------------------------------
@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def demo_sentences() -> list[Sentence]:
    return [make_sentence(*d) for d in DEMOS]


@pytest.fixture
def query_sentences() -> list[Sentence]:
    return [make_sentence(*q) for q in QUERIES]


@pytest.fixture
def demo_store(demo_sentences, embedder) -> DemoStore:
    return DemoStore.from_sentences(demo_sentences, embedder)


@pytest.fixture
def llm_cache(tmp_path) -> LlmCache:
    cache = LlmCache(tmp_path / "llm_cache.sqlite")
    yield cache
    cache.close()


@pytest.fixture
def fault_server():
    from fault_server import FaultServer

    from allabel_core.predictors.openai_model import forget_capabilities

    server = FaultServer()
    forget_capabilities()  # a new server may reuse an earlier one's port, and so its URL
    yield server
    server.close()


@pytest.fixture(scope="session")
def local_llm():
    """A running llama.cpp server with SmolLM2-135M; skipped, with the
    reason, when llama-cpp-python or the GGUF is not installed."""
    from allabel_core.predictors import local_server as ll

    reason = ll.unavailable_reason()
    if reason:
        pytest.skip(f"local LLM not installed ({reason}): run `make local-llm`")
    handle = ll.start_server()
    yield handle
    handle.stop()
