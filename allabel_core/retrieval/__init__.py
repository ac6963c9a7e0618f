"""Finding similar sentences: dense (MiniLM cosine), BM25 and their fusion.

Used for demonstration retrieval (both predictors) and for stage 2's
coverage lists; stage 1 (the core-set) always measures dense cosine.
"""

from .bm25 import Bm25Retriever
from .fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from .retrievers import (
    AUTO,
    DEFAULT_RETRIEVER,
    DESCRIPTIONS,
    RETRIEVERS,
    DenseRetriever,
    HybridRetriever,
    RetrieverConfig,
    as_config,
    make_retriever,
)
from .terms import TERMS_VERSION, terms

__all__ = [
    "AUTO",
    "DEFAULT_RETRIEVER",
    "DEFAULT_RRF_K",
    "DESCRIPTIONS",
    "RETRIEVERS",
    "TERMS_VERSION",
    "Bm25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "RetrieverConfig",
    "as_config",
    "make_retriever",
    "reciprocal_rank_fusion",
    "terms",
]
