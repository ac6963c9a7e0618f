"""Predictors: label sentences from retrieved annotated demonstrations."""

from .base import DemoStore, Prediction, Predictor
from .llm import LlmPredictor, OpenAICompatible  # noqa: F401  (the LLM predictor and its model)
from .knn import KnnPredictor  # noqa: F401  (the offline kNN predictor)

__all__ = ["DemoStore", "Prediction", "Predictor"]
