"""The tests' fakes, in one place (fixtures over them are in conftest.py).

- :class:`HashEmbedder`: a deterministic bag-of-words embedder, so retrieval
  tests need no model; :class:`FakeEmbedder`: hashed random unit vectors.
- :class:`FakeChatModel`: the model interface with recorded answers per query
  sentence (and optional log-probabilities), counting every call.
- :class:`FakePredictor` (selection tests), :class:`Offline` and
  :class:`FakeLlm` (a predictor without / with a ledger, for project tasks).
- :class:`FakeStore`: what the map layout cache reads and writes of a project.
- a small materials-science corpus with gold spans, and synthetic pools
  (:func:`make_sentences`, :func:`random_vectors`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading

import numpy as np

from allabel_core.predictors.base import Prediction
from allabel_core.predictors.ledger import Ledger, Prices
from allabel_core.predictors.llm import Completion
from allabel_core.data.sentence import Sentence, Span

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


def gold_answer(body: dict) -> str:
    """What a perfect model answers (JSON mode) to a chat request whose last
    message holds one of the QUERIES: its gold entities."""
    query = body["messages"][-1]["content"]
    ents = [e for q in QUERIES if q[1] in query for e in q[2]]
    return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in ents]})


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
        self.supports: dict = {}
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

    async def aclose(self) -> None:
        pass

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


# -- selection tests -----------------------------------------------------------
WORDS = ["alloy", "film", "oxide", "LiFePO4", "TiO2", "anneal", "the", "was", "grown", "on", "at", "K", "band", "gap"]
ENTITIES = {"LiFePO4": "MAT", "TiO2": "MAT", "anneal": "SMT"}


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((n, d)))


def make_sentences(n: int, seed: int = 0, prefix: str = "s") -> list[Sentence]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = list(rng.choice(WORDS, size=int(rng.integers(3, 9))))
        tags = [f"B-{ENTITIES[w]}" if w in ENTITIES else "O" for w in words]
        out.append(Sentence.from_tags(f"{prefix}{i}", words, tags)[0])
    return out


class FakePredictor:
    """Tags words that were entities in any demonstration; uncertainty is a
    stable hash of the text. Records what it was shown, and fails if a
    sentence to predict carries spans (labels must stay hidden)."""

    name = "fake predictor"
    ledger = None

    def identity(self) -> dict:
        return {"model": self.name, "base_url": ""}

    def __init__(self):
        self.calls: list[tuple[list[str], list[str]]] = []

    def params(self) -> dict:
        return {"kind": "fake"}

    def predict(self, demos, sentences, *, progress=None):
        assert all(not s.spans for s in sentences), "a sentence to predict carries labels"
        self.calls.append(([s.id for s in demos.sentences], [s.id for s in sentences]))
        lexicon = {sp.text: sp.label for s in demos.sentences for sp in s.spans}
        out = []
        for s in sentences:
            spans = tuple(Span(t.start, t.end, lexicon[t.text], t.text, "suggested") for t in s.tokens if t.text in lexicon)
            u = int(hashlib.sha1(s.text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            out.append(Prediction(s.id, spans, u, "fake"))
        return out


class FakeEmbedder:
    """Deterministic unit vectors from a hash of the text (no model)."""

    name = "fake-embedder"
    dim = 16

    def encode(self, texts, *, progress=None):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return unit(out)


# -- project tasks -------------------------------------------------------------
PROMPT, COMPLETION = 100, 10

class FakeModel:
    def identity(self) -> dict:
        return {"model": "fake-llm", "base_url": "http://localhost:9/v1"}


class Offline:
    """A predictor without a ledger, as the offline kNN one. Uncertainty from
    the text, so stage 3 has something to rank."""

    name = "offline kNN predictor"
    ledger = None

    def __init__(self):
        self.predicted: list[str] = []

    def identity(self) -> dict:
        return {"model": self.name, "base_url": ""}

    def params(self) -> dict:
        return {"predictor": self.name}

    def answered(self) -> None:
        pass

    def predict(self, demos, sentences, *, progress=None):
        out = []
        for n, s in enumerate(sentences, 1):
            self.answered()
            self.predicted.append(s.id)
            out.append(Prediction(s.id, (), (len(s.text) % 7) / 7.0, "perplexity"))
            if progress:
                progress(n, len(sentences))
        return out


class FakeLlm(Offline):
    """What the project side reads of an LLM predictor (the
    :class:`~allabel_core.predictors.base.Predictor` protocol): a ``name``,
    ``identity()``, and a :class:`Ledger` it fills as it answers (one
    call per sentence, fixed tokens)."""

    name = "LLM: fake-llm at localhost"

    def __init__(self):
        super().__init__()
        self.model = FakeModel()
        self.ledger = Ledger(Prices(1.0, 2.0))

    def identity(self) -> dict:
        return self.model.identity()

    def answered(self) -> None:
        self.ledger.record_call(latency=0.001, prompt_tokens=PROMPT, completion_tokens=COMPLETION)


# -- map layout ----------------------------------------------------------------
class FakeStore:
    def __init__(self):
        self.saved = None
        self.saves = 0

    def projection(self):
        return self.saved

    def save_projection(self, ids, xy, params):
        self.saved = (list(ids), np.asarray(xy), dict(params))
        self.saves += 1
