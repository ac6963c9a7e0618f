"""A project's schema (entity types with definitions, colours and keys) and
the conversion between code-point offsets and the UTF-16 offsets browsers use.

A :class:`Schema` is immutable; its edits (:meth:`Schema.add`,
:meth:`Schema.rename`, :meth:`Schema.recolour`, :meth:`Schema.describe`,
:meth:`Schema.move`, :meth:`Schema.remove`, :meth:`Schema.merge`) are pure
functions that check their input and return a new schema, so the dashboard,
the library and the command line share one set of rules:

* A name is BIO-safe: it can follow ``B-``/``I-`` in a CoNLL tag column and
  read back as itself. Letters, digits, ``_``, ``-`` and ``.``; starting with
  a letter or digit; at most 40 characters; not ``O`` and not itself
  tag-shaped (``B-MAT``). Two names may not differ only in case.
* The order is the person's: keys (``1``…``9``, then ``0``) follow it, never
  the alphabet, and adding a type appends it, so existing keys stay put.
* A colour is ``#RRGGBB``; a new type gets the first colour of the
  colour-blind-safe palette (Okabe & Ito 2008) not yet in use.
* The definition is what an LLM is told the type means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import SchemaError

# Colour-blind-safe (Okabe–Ito, without its black) first, then Tableau.
PALETTE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#9C755F", "#BAB0AC",
)
DEFAULT_COLOR = "#BAB0AC"
KEYS = "1234567890"
MAX_NAME = 40
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_NAME = re.compile(r"^[^\W_][\w.\-]*$")
_TAG_LIKE = re.compile(r"^[BIESLU]-", re.IGNORECASE)


@dataclass(frozen=True)
class EntityType:
    name: str
    description: str = ""
    color: str = DEFAULT_COLOR


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an entity type's name, or None if it can."""
    if not isinstance(name, str) or not name.strip():
        return "a type needs a name"
    if any(ch.isspace() for ch in name):
        return f"{name!r} contains whitespace; CoNLL tag columns cannot hold it (use _ or -)"
    if len(name) > MAX_NAME:
        return f"{name!r} is longer than {MAX_NAME} characters"
    if not _NAME.match(name):
        return f"{name!r} may hold only letters, digits, _, - and ., starting with a letter or digit"
    if name.upper() == "O":
        return "'O' is the BIO tag for outside any entity; it cannot be a type"
    if _TAG_LIKE.match(name):
        return f"{name!r} looks like a BIO tag itself; drop the {name[:2]!r} prefix"
    return None


def check_color(color: object, name: str) -> str:
    if not isinstance(color, str) or not _COLOR.match(color):
        raise SchemaError(f"type {name!r}: colour must look like #RRGGBB, got {color!r}")
    return color.upper()


@dataclass(frozen=True)
class Schema:
    """The entity types, in the order the UI numbers them (key 1 = first)."""

    types: tuple[EntityType, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for t in self.types:
            problem = name_problem(t.name)
            if problem:
                raise SchemaError(problem)
            other = seen.get(t.name.casefold())
            if other is not None:
                raise SchemaError(f"the schema lists {t.name!r} more than once" if other == t.name
                                  else f"{other!r} and {t.name!r} differ only in case; keep one")
            seen[t.name.casefold()] = t.name
            check_color(t.color, t.name)

    # -- reading -------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [t.name for t in self.types]

    def get(self, name: str) -> EntityType:
        for t in self.types:
            if t.name == name:
                return t
        raise SchemaError(f"there is no type {name!r} (the types: {', '.join(self.names) or 'none yet'})")

    def color(self, name: str) -> str:
        return next((t.color for t in self.types if t.name == name), DEFAULT_COLOR)

    def key(self, name: str) -> str | None:
        """The keyboard key of a type: its place in the schema (1–9, then 0), or None past ten."""
        i = self.names.index(name)
        return KEYS[i] if i < len(KEYS) else None

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __len__(self) -> int:
        return len(self.types)

    def to_dict(self) -> dict:
        return {"labels": [{"name": t.name, "description": t.description, "color": t.color} for t in self.types]}

    def to_json(self) -> str:
        """The ``schema.json`` text (the sample's format)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    # -- edits (each returns a new schema) ---------------------------------------
    def next_color(self) -> str:
        used = {t.color.upper() for t in self.types}
        return next((c for c in PALETTE if c.upper() not in used), PALETTE[len(self.types) % len(PALETTE)])

    def add(self, name: str, description: str = "", color: str | None = None) -> Schema:
        """Append a type (so every existing key stays where it was)."""
        name = str(name).strip()
        problem = name_problem(name)
        if problem:
            raise SchemaError(problem)
        self._free(name)
        color = check_color(color, name) if color else self.next_color()
        return Schema((*self.types, EntityType(name, str(description or "").strip(), color)))

    def _free(self, name: str, but: str | None = None) -> None:
        for t in self.types:
            if t.name != but and t.name.casefold() == name.casefold():
                raise SchemaError(f"there is already a type {t.name!r}" if t.name == name
                                  else f"there is already a type {t.name!r}, which differs from {name!r} only in case")

    def _replace(self, which: str, **changes) -> Schema:
        self.get(which)
        return Schema(tuple(replace(t, **changes) if t.name == which else t for t in self.types))

    def rename(self, old: str, new: str) -> Schema:
        """The type ``old`` called ``new`` (refused onto an existing name)."""
        new = str(new).strip()
        self.get(old)
        problem = name_problem(new)
        if problem:
            raise SchemaError(problem)
        if new == old:
            return self
        self._free(new, but=old)
        return self._replace(old, name=new)

    def recolour(self, name: str, color: str) -> Schema:
        return self._replace(name, color=check_color(color, name))

    def describe(self, name: str, description: str) -> Schema:
        return self._replace(name, description=str(description or "").strip())

    def move(self, name: str, to: int) -> Schema:
        """The type at position ``to`` (0-based, clipped), the others in their order."""
        t = self.get(name)
        rest = [x for x in self.types if x.name != name]
        to = max(0, min(int(to), len(rest)))
        return Schema((*rest[:to], t, *rest[to:]))

    def remove(self, name: str) -> Schema:
        self.get(name)
        return Schema(tuple(t for t in self.types if t.name != name))

    def merge(self, other: Schema) -> Schema:
        """This schema plus ``other``'s types it lacks (appended in
        ``other``'s order, with their colours unless taken); a type both
        have keeps its own settings, and an empty definition is filled in."""
        out = self
        for t in other.types:
            if t.name in out:
                if not out.get(t.name).description and t.description:
                    out = out.describe(t.name, t.description)
                continue
            taken = t.color.upper() in {x.color.upper() for x in out.types}
            out = out.add(t.name, t.description, None if taken else t.color)
        return out

    # -- building ----------------------------------------------------------------
    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> Schema:
        """Types named by ``labels`` in order of first appearance (never sorted)."""
        out = cls()
        for name in dict.fromkeys(labels):
            out = out.add(name)
        return out

    @classmethod
    def from_obj(cls, obj, fallback_labels: Iterable[str] = ()) -> Schema:
        """From ``{"labels": [{"name", "description", "color"}]}``, a list of
        names or such dicts, a :class:`Schema`, or None (the corpus labels,
        in order of first appearance)."""
        if isinstance(obj, Schema):
            return obj
        if obj is None:
            return cls.from_labels(fallback_labels)
        if isinstance(obj, Mapping):
            if not isinstance(obj.get("labels"), list):
                raise SchemaError('a schema is {"labels": [{"name", "description", "color"}, ...]}')
            items = list(obj["labels"])
        elif isinstance(obj, (list, tuple)):
            items = list(obj)
        else:
            raise SchemaError(f'a schema is {{"labels": [...]}} or a list of names, got {type(obj).__name__}')
        out = cls()
        for i, item in enumerate(items):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, Mapping):
                raise SchemaError(f"schema label {i + 1} must be a name or an object, got {item!r}")
            name = item.get("name")
            if not isinstance(name, str):
                raise SchemaError(f"schema label {i + 1} needs a \"name\" (text), got {name!r}")
            try:
                out = out.add(name, str(item.get("description") or ""), item.get("color") or None)
            except SchemaError as exc:
                raise SchemaError(f"schema label {i + 1}: {exc}") from None
        return out


def load_schema(path: str | Path) -> Schema:
    """Read a ``schema.json`` file; ``SchemaError`` names the file and what is wrong."""
    try:
        return schema_from_bytes(Path(path).read_bytes(), str(path))
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read the schema ({exc.strerror or exc})") from None


def schema_from_bytes(data: bytes, filename: str) -> Schema:
    """A schema from the bytes of a ``schema.json`` (an upload)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SchemaError(f"{filename}: not UTF-8 text; save the schema as UTF-8") from None
    except ValueError as exc:
        raise SchemaError(f"{filename}, line {getattr(exc, 'lineno', '?')}: not JSON ({getattr(exc, 'msg', exc)})") from None
    try:
        return Schema.from_obj(obj)
    except SchemaError as exc:
        raise SchemaError(f"{filename}: {exc}") from None


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
