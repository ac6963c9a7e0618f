"""The one table of ALLabel's stages: name, letter, colour.

Everything that names a stage reads it from here: budget splits and stage
orders (letters), project settings and the queue (names), the map's
colours, the CLI's help. Sentences queued by hand carry the stage
:data:`MANUAL`, which is not a selection stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Stage:
    """One selection stage: ``name`` (stored with each pick), ``letter``
    (split and order strings such as ``"DSU"``), ``color`` (the map)."""

    name: str
    letter: str
    color: str
    description: str


STAGES: tuple[Stage, ...] = (
    Stage("diversity", "D", "#1f77b4", "core-set: far from everything selected"),
    Stage("similarity", "S", "#2ca02c", "retrieval coverage of the target"),
    Stage("uncertainty", "U", "#d62728", "where the predictor is least sure"),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
STAGE_LETTERS: str = "".join(s.letter for s in STAGES)
MANUAL = "manual"
MANUAL_COLOR = "#8c564b"

_BY_KEY = {**{s.name: s for s in STAGES}, **{s.letter.lower(): s for s in STAGES}}


def get_stage(key: str) -> Stage:
    """A stage by name or letter (any case); ``ConfigError`` otherwise."""
    stage = _BY_KEY.get(str(key).strip().lower())
    if stage is None:
        names = ", ".join(f"{s.name} ({s.letter})" for s in STAGES)
        raise ConfigError(f"unknown stage {key!r}; choose one of {names}")
    return stage


def stage_name(stage: str) -> str:
    """``"D"``/``"diversity"`` -> ``"diversity"``; ``"m"`` -> ``"manual"``;
    other labels (a custom stage recorded by a notebook) are kept, lower-cased."""
    s = str(stage).strip().lower()
    if s in ("m", MANUAL):
        return MANUAL
    return _BY_KEY[s].name if s in _BY_KEY else s


def stage_color(name: str) -> str:
    """The map colour of a stage name (or of :data:`MANUAL`)."""
    if name == MANUAL:
        return MANUAL_COLOR
    return get_stage(name).color
