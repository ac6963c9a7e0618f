"""ALLabel: choose which sentences to annotate so that retrieval-augmented
entity recognition works almost as well as annotating everything.

The library is the whole tool; the dashboard and CLI are views over it.
A notebook session usually needs only these names::

    import allabel_core as al
    pool = al.read_corpus("pool.jsonl")
    embedder = al.Embedder()
    vectors = embedder.encode(pool.texts)
    picks = al.run_strategy("allabel", vectors, [], 50, rng=np.random.default_rng(0), context=...)

Heavy modules (torch, faiss, pandas, plotly) load on first use, so
``import allabel_core`` stays fast.
"""

from __future__ import annotations

import importlib

from .data.corpus import Corpus
from .errors import (
    AllabelError,
    BudgetError,
    ConfigError,
    DataFormatError,
    DimensionError,
    EmptyPoolError,
    PredictorError,
    ProjectError,
)
from .data.sentence import Sentence, Span
from .data.tokenize import Token, tokenize

__version__ = "0.1.0"

# name -> module that defines it, imported when first asked for.
_LAZY = {
    "Embedder": "vectors.embed",
    "build_index": "vectors.index",
    "evaluate": "scoring",
    "Scores": "scoring",
    "read_corpus": "formats",
    "read_corpus_bytes": "formats",
    "write_corpus": "formats",
    "dumps_corpus": "formats",
    "DemoStore": "predictors.base",
    "Prediction": "predictors.base",
    "KnnPredictor": "predictors.knn",
    "LlmPredictor": "predictors.llm",
    "OpenAICompatible": "predictors.openai_model",
    "run_strategy": "selection",
    "strategy_names": "selection",
    "SelectionContext": "selection",
    "run_curve": "experiment.curve",
    "build_predictor": "predictors.registry",
    "Project": "project",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'allabel_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AllabelError", "BudgetError", "ConfigError", "Corpus", "DataFormatError", "DimensionError",
    "EmptyPoolError", "PredictorError", "ProjectError", "Sentence", "Span", "Token", "tokenize",
    *_LAZY,
]
