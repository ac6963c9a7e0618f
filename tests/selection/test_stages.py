"""The one stage table and the one stage dispatcher."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import random_vectors

from allabel_core.errors import ConfigError
from allabel_core.selection import STAGE_NAMES, STAGES, run_stage, select_allabel, select_coreset, select_similarity
from allabel_core.selection.budget import DEFAULT_ORDER, parse_order, split_budget
from allabel_core.selection.stages import MANUAL, get_stage, stage_color, stage_name


def test_the_table_drives_letters_names_and_colours():
    assert STAGE_NAMES == ("diversity", "similarity", "uncertainty")
    assert DEFAULT_ORDER == "".join(s.letter for s in STAGES) == "DSU"
    assert set(split_budget(10)) == {s.letter for s in STAGES}
    for s in STAGES:
        assert get_stage(s.letter) is s and get_stage(s.name.upper()) is s and stage_name(s.letter) == s.name
        assert stage_color(s.name) == s.color
    assert stage_name("m") == MANUAL and stage_name("Custom") == "custom"
    with pytest.raises(ConfigError):
        get_stage("x")
    with pytest.raises(ConfigError):
        parse_order("DX")


def test_run_stage_is_what_the_strategies_do():
    x = random_vectors(60, seed=3)
    a = run_stage("D", x, [], 5, rng=np.random.default_rng(0))
    b = select_coreset(x, [], 5, rng=np.random.default_rng(0))
    assert list(a.indices) == list(b.indices)
    c = run_stage("similarity", x, [1, 2], 4, rng=np.random.default_rng(1), k_cov=5)
    d = select_similarity(x, [1, 2], 4, rng=np.random.default_rng(1), k_cov=5)
    assert list(c.indices) == list(d.indices)
    # select_allabel with only the diversity share is the diversity stage
    e = select_allabel(x, [], 5, rng=np.random.default_rng(0), split="1:0:0")
    assert list(e.indices) == list(b.indices)
    with pytest.raises(ConfigError, match="no stage takes"):
        run_stage("D", x, [], 2, rng=np.random.default_rng(0), bogus=1)
