"""Predictors: label sentences from retrieved annotated demonstrations."""

from .base import DemoStore, Prediction, Predictor

__all__ = ["DemoStore", "Prediction", "Predictor"]
