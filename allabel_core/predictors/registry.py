"""Predictors by name, for the project settings, the CLI, the experiment
and the Settings page (the same idiom as :mod:`allabel_core.selection.registry`).

A :class:`PredictorSpec` says what a predictor is called, how to build it,
what it needs (an endpoint and a model, a key) and how the UI describes it.
These names are spelled here and nowhere else in the library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .base import Predictor


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment (where keys hide)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class PredictorSpec:
    """A registered predictor.

    ``build(embedder, **options)`` makes it; ``options`` are the keyword
    arguments it accepts (a misspelt one fails instead of being ignored);
    ``from_settings(settings, schema, api_key)`` turns a project's settings
    into those options; ``describe(settings)`` is what the UI shows as
    "predictor in use", without building it. ``needs_key``: whether it talks
    to an endpoint that may want an API key; ``remote``: whether each
    prediction costs a request (so the dashboard predicts the pool only on
    demand).
    """

    name: str
    description: str
    build: Callable[..., Predictor]
    options: tuple[str, ...]
    from_settings: Callable[[Mapping, object, str | None], dict]
    describe: Callable[[Mapping], str]
    needs_key: bool = False
    remote: bool = False

    def make(self, embedder, **options) -> Predictor:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigError(
                f"predictor {self.name!r} has no option {', '.join(unknown)} (options: {', '.join(self.options) or 'none'})")
        return self.build(embedder, **options)


def _retriever(settings: Mapping):
    """The demonstration retriever the settings name (``retriever``, ``rrf_k``)."""
    from ..retrieval import DEFAULT_RETRIEVER, as_config

    return as_config(settings.get("retriever", DEFAULT_RETRIEVER), settings.get("rrf_k"))


KNN, OPENAI = "knn", "openai"
KNN_DESCRIPTION = "offline kNN predictor"


def _build_knn(embedder, **params) -> Predictor:
    from .knn import KnnPredictor

    return KnnPredictor(embedder, **params)


_LLM_MODEL_OPTIONS = ("timeout", "max_retries", "json_mode", "key_hint")


def _build_llm(embedder, *, base_url=None, model=None, api_key=None, labels=(), **params) -> Predictor:
    from .llm import LlmPredictor
    from .openai_model import OpenAICompatible

    client = OpenAICompatible(base_url, model, api_key or None,
                              **{k: params.pop(k) for k in _LLM_MODEL_OPTIONS if k in params})
    return LlmPredictor(client, labels, embedder=embedder, **params)


PREDICTORS: dict[str, PredictorSpec] = {
    spec.name: spec
    for spec in (
        PredictorSpec(
            KNN, KNN_DESCRIPTION, _build_knn,
            options=("word_layers", "k", "retriever", "neighbours", "temperature", "threshold", "shape_weight", "context", "scheme",
                     "transitions", "o_weight", "gazetteer", "gazetteer_weight", "ignore_case", "uncertainty", "threads"),
            # Its own k is the number of demonstrations it votes over (tuned); the
            # project's k setting is the LLM's prompt size, so it is not passed.
            from_settings=lambda settings, schema, api_key: {"retriever": _retriever(settings)},
            describe=lambda settings: KNN_DESCRIPTION,
        ),
        PredictorSpec(
            OPENAI, "LLM at an OpenAI-compatible endpoint", _build_llm,
            options=("base_url", "model", "api_key", "labels", "k", "retriever", "seed", "temperature", "concurrency",
                     "uncertainty", "n_samples", "prompt_version", "cache", "prices", *_LLM_MODEL_OPTIONS),
            from_settings=lambda settings, schema, api_key: {
                "base_url": settings.get("base_url"), "model": settings.get("model"), "api_key": api_key,
                "key_hint": "type the key on the Settings page, or set $OPENAI_API_KEY",
                "labels": schema.types,  # the same EntityType the prompts read
                "k": int(settings.get("k", 5)), "seed": int(settings.get("seed", 0)),
                "retriever": _retriever(settings),
            },
            describe=lambda settings: (f"LLM {settings.get('model') or '(no model set)'} at "
                                       f"{public_url(settings.get('base_url') or '')}"),
            needs_key=True, remote=True,
        ),
    )
}
DEFAULT_PREDICTOR = KNN


def predictor_names() -> list[str]:
    return list(PREDICTORS)


def get_predictor_spec(name: str) -> PredictorSpec:
    try:
        return PREDICTORS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown predictor {name!r}; choose one of {', '.join(PREDICTORS)}") from None


def build_predictor(name: str, embedder, **options) -> Predictor:
    """A predictor by registry name (:func:`predictor_names`)."""
    return get_predictor_spec(name).make(embedder, **options)


def predictor_from_settings(settings: Mapping, embedder, schema, *, api_key: str | None = None) -> Predictor:
    """The predictor a project's settings name (``settings["predictor"]``),
    built with them: for both the demonstration ``retriever`` (and its
    ``rrf_k``); for an LLM the configured ``base_url``, ``model``,
    ``k`` demonstrations and ``seed``, the schema's definitions in the
    prompt, and ``api_key`` (typed for the session) or ``$OPENAI_API_KEY``."""
    spec = get_predictor_spec(settings.get("predictor", DEFAULT_PREDICTOR))
    return spec.make(embedder, **spec.from_settings(settings, schema, api_key))


def describe_predictor(settings: Mapping) -> str:
    """What the UI shows as "predictor in use", without building it."""
    return get_predictor_spec(settings.get("predictor", DEFAULT_PREDICTOR)).describe(settings)
