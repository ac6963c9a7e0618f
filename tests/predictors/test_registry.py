"""The predictor registry: names in one place, built from settings, typed errors."""

from __future__ import annotations

import pytest

from allabel_core.data.schema import Schema
from allabel_core.errors import ConfigError
from allabel_core.predictors.base import Predictor
from allabel_core.predictors.registry import (
    DEFAULT_PREDICTOR,
    PREDICTORS,
    build_predictor,
    describe_predictor,
    get_predictor_spec,
    predictor_from_settings,
    predictor_names,
)
from allabel_core.project.settings import DEFAULT_SETTINGS, check_setting


def test_every_name_builds_a_predictor_that_keeps_the_protocol(embedder):
    settings = dict(DEFAULT_SETTINGS, base_url="http://127.0.0.1:9/v1", model="m")
    schema = Schema.from_obj(["MAT"])
    assert predictor_names() == list(PREDICTORS) and DEFAULT_PREDICTOR in PREDICTORS
    for name in predictor_names():
        p = predictor_from_settings(dict(settings, predictor=name), embedder, schema, api_key="sk-x")
        assert isinstance(p, Predictor)
        assert (p.ledger is not None) == get_predictor_spec(name).remote
        assert set(p.identity()) == {"model", "base_url"}
        assert describe_predictor(dict(settings, predictor=name))


def test_the_llm_gets_the_settings_and_the_session_key(embedder):
    llm = next(n for n in predictor_names() if PREDICTORS[n].needs_key)
    settings = dict(DEFAULT_SETTINGS, predictor=llm, base_url="http://127.0.0.1:9/v1", model="tiny", k=3, seed=7)
    p = predictor_from_settings(settings, embedder, Schema.from_obj(["MAT"]), api_key="sk-typed-0123456789")
    assert p.identity() == {"model": "tiny", "base_url": "http://127.0.0.1:9/v1"}
    assert p.k == 3 and p.seed == 7
    assert describe_predictor(settings) == "LLM tiny at http://127.0.0.1:9/v1"


def test_unknown_names_and_options_are_config_errors(embedder):
    with pytest.raises(ConfigError, match="unknown predictor"):
        build_predictor("nope", embedder)
    with pytest.raises(ConfigError, match="has no option"):
        build_predictor(DEFAULT_PREDICTOR, embedder, no_such_option=1)
    with pytest.raises(ConfigError, match="predictor must be one of"):
        check_setting("predictor", "nope")
