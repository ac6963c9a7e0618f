"""Predictors: label sentences from retrieved annotated demonstrations."""

from .base import DemoStore, Prediction, Predictor
from .llm import LlmPredictor  # noqa: F401  (the LLM predictor)
from .openai_model import OpenAICompatible  # noqa: F401  (its model for every OpenAI-compatible server)
from .knn import KnnPredictor  # noqa: F401  (the offline kNN predictor)

__all__ = ["DemoStore", "Prediction", "Predictor"]
