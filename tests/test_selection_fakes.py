"""Small synthetic pools, a fake predictor and a fake embedder for the selection tests (no tests here)."""

from __future__ import annotations

import hashlib

import numpy as np

from allabel_core.predictors.base import Prediction
from allabel_core.data.sentence import Sentence, Span

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
