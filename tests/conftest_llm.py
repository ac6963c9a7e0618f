"""Fixtures and fakes for the LLM tests (imported by tests/test_llm_*.py).

- :class:`HashEmbedder`: a deterministic bag-of-words embedder, so retrieval
  tests need no model.
- :class:`FakeChatModel`: the model interface with recorded answers per query
  sentence (and optional log-probabilities), counting every call.
- a small materials-science corpus with gold spans.
- ``fault_server``: a :class:`fault_server.FaultServer` per test.
- ``local_llm``: the real llama.cpp server with SmolLM2 for the session,
  skipped with the reason when it is not installed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading

import numpy as np
import pytest

from allabel_core.predictors.cache import LlmCache
from allabel_core.predictors.base import DemoStore
from allabel_core.predictors.llm import Completion
from allabel_core.data.sentence import Sentence

LABELS = {
    "MAT": "a material: a compound, element, alloy or mixture",
    "PRO": "a property of a material",
    "SMT": "a synthesis method or processing step",
}

# (id, text, [(entity, label), ...]) — each entity marks its first occurrence.
DEMOS = [
    ("d1", "TiO2 nanoparticles were prepared by sol-gel synthesis.", [("TiO2", "MAT"), ("sol-gel", "SMT")]),
    ("d2", "The band gap of ZnO films increased after annealing.", [("band gap", "PRO"), ("ZnO", "MAT"), ("annealing", "SMT")]),
    ("d3", "LiFePO4 cathodes show high capacity.", [("LiFePO4", "MAT"), ("capacity", "PRO")]),
    ("d4", "Graphene was grown by chemical vapor deposition.", [("Graphene", "MAT"), ("chemical vapor deposition", "SMT")]),
    ("d5", "The conductivity of doped Si rises with temperature.", [("conductivity", "PRO"), ("Si", "MAT")]),
    ("d6", "Fe3O4 powders were calcined at 500 C.", [("Fe3O4", "MAT"), ("calcined", "SMT")]),
]

QUERIES = [
    ("q1", "ZnO nanorods were grown by sol-gel synthesis.", [("ZnO", "MAT"), ("sol-gel", "SMT")]),
    ("q2", "The capacity of LiFePO4 fades.", [("capacity", "PRO"), ("LiFePO4", "MAT")]),
    ("q3", "In the 𝛼 phase, TiO2 shows a wide band gap.", [("TiO2", "MAT"), ("band gap", "PRO")]),
]


def make_sentence(sid: str, text: str, ents) -> Sentence:
    spans = []
    for ent, label in ents:
        start = text.index(ent)
        spans.append((start, start + len(ent), label))
    return Sentence.from_text(sid, text, spans)


class HashEmbedder:
    """Unit vectors from hashed lower-cased words: similar wording, similar vectors."""

    name = "hash-embedder"

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls = 0

    def encode(self, texts, *, progress=None) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.sha1(w.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


class FakeChatModel:
    """Answers from ``answers``: query sentence text -> answer text, or a
    list of texts given in turn (the last repeats), or a callable
    ``(query, params) -> text``. ``default`` answers anything else.
    ``logprobs``: return these token log-probabilities when asked."""

    def __init__(self, answers=None, *, default: str = "[]", logprobs=None, json_mode: bool = False, name="fake"):
        self.answers = dict(answers or {})
        self.default = default
        self.logprobs = logprobs
        self.wants_json = json_mode
        self.model = name
        self.base_url = "fake://model"
        self.calls: list[dict] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._turn: dict[str, int] = {}
        self._lock = threading.Lock()
        self.delay = 0.0

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    def identity(self) -> dict:
        return {"base_url": self.base_url, "model": self.model}

    @staticmethod
    def query_of(messages) -> str:
        return messages[-1]["content"].removeprefix("Sentence: ")

    def answer_for(self, query: str, params: dict) -> str:
        a = self.answers.get(query, self.default)
        if callable(a):
            return a(query, params)
        if isinstance(a, list):
            with self._lock:
                i = self._turn.get(query, 0)
                self._turn[query] = i + 1
            return a[min(i, len(a) - 1)]
        return a

    async def acomplete(self, messages, *, ledger=None, **params) -> Completion:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self.calls.append({"messages": messages, **params})
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            query = self.query_of(messages)
            text = self.answer_for(query, params)
            lp = self.logprobs if (self.logprobs is not None and params.get("logprobs")) else None
            if ledger:
                ledger.record_call(latency=0.001, prompt_tokens=100, completion_tokens=10)
            return Completion(text=text, prompt_tokens=100, completion_tokens=10, logprobs=lp, latency=0.001)
        finally:
            with self._lock:
                self._in_flight -= 1


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

    server = FaultServer()
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
