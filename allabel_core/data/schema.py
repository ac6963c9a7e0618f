"""A project's schema (entity types with definitions and colours) and the
conversion between code-point offsets and the UTF-16 offsets browsers use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

# Colour-blind-safe (Okabe–Ito) first, then Tableau.
PALETTE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#9C755F", "#BAB0AC",
)
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class EntityType:
    name: str
    description: str = ""
    color: str = "#BAB0AC"


@dataclass(frozen=True)
class Schema:
    """The entity types, in the order the UI numbers them (shortcut 1 = first)."""

    types: tuple[EntityType, ...]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.types]

    def color(self, name: str) -> str:
        return next((t.color for t in self.types if t.name == name), "#BAB0AC")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __len__(self) -> int:
        return len(self.types)

    def to_dict(self) -> dict:
        return {"labels": [{"name": t.name, "description": t.description, "color": t.color} for t in self.types]}

    @classmethod
    def from_obj(cls, obj, fallback_labels: Iterable[str] = ()) -> Schema:
        """From ``{"labels": [{"name", "description", "color"}]}``, a list of
        names or such dicts, a :class:`Schema`, or None (the corpus labels)."""
        if isinstance(obj, Schema):
            return obj
        if obj is None:
            items: list = sorted(set(fallback_labels))
        elif isinstance(obj, Mapping):
            if "labels" not in obj:
                raise ConfigError('a schema is {"labels": [{"name", "description", "color"}, ...]}')
            items = list(obj["labels"])
        else:
            items = list(obj)
        types: list[EntityType] = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, Mapping):
                raise ConfigError(f"schema label {i + 1} must be a name or an object, got {item!r}")
            name = item.get("name")
            if not isinstance(name, str) or not name.strip() or any(ch.isspace() for ch in name):
                raise ConfigError(f"schema label {i + 1} has an invalid name {name!r}")
            color = item.get("color") or PALETTE[i % len(PALETTE)]
            if not isinstance(color, str) or not _COLOR.match(color):
                raise ConfigError(f"schema label {name!r}: colour must look like #RRGGBB, got {color!r}")
            types.append(EntityType(name, str(item.get("description") or ""), color))
        names = [t.name for t in types]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"schema lists {', '.join(dupes)} more than once")
        return cls(tuple(types))


def load_schema(path: str | Path) -> Schema:
    """Read a ``schema.json`` file."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the schema ({exc})") from None
    return Schema.from_obj(obj)


def utf16_offset(text: str, i: int) -> int:
    """The UTF-16 code-unit offset of code-point offset ``i`` in ``text``
    (an astral character such as ``𝛼`` is one code point, two units)."""
    if not 0 <= i <= len(text):
        raise ValueError(f"offset {i} outside the text (length {len(text)})")
    return i + sum(1 for ch in text[:i] if ord(ch) > 0xFFFF)


def from_utf16(text: str, j: int) -> int:
    """The code-point offset of UTF-16 offset ``j``; raises ``ValueError`` if
    ``j`` falls between the two halves of a surrogate pair or outside the text."""
    units = 0
    for i, ch in enumerate(text):
        if units == j:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > j:
            raise ValueError(f"UTF-16 offset {j} falls inside the character {ch!r} at {i}")
    if units == j:
        return len(text)
    raise ValueError(f"UTF-16 offset {j} outside the text ({units} units)")
