"""Chat prompts from versioned template files, rendered in a sandbox.

A prompt version is a file ``allabel_core/prompts/<version>.jinja`` (or in a
folder the caller names) defining one macro per message kind: ``system``,
``user`` and ``assistant``. :class:`PromptTemplate` renders the messages for a
query: the system message (the task, the entity types and their
definitions), each demonstration as a user turn and an assistant turn (the
JSON of its spans), least similar first so the most similar sits next to the
query, and finally the query as a user turn.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment`, and sentence
texts only ever enter as variables, so a sentence containing ``{{ 7*7 }}`` is
printed as written, never evaluated. A change in what a prompt says is a new
version (``ner.v2``); old versions keep their meaning, so answers cached
under them stay valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..data.schema import EntityType
from ..errors import ConfigError
from ..data.sentence import Sentence

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
ANSWER_FORMATS = ("list", "object")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}




def schema_from(labels: Mapping[str, str] | Iterable[str] | Iterable[EntityType]) -> tuple[EntityType, ...]:
    """Entity types (the schema's :class:`~allabel_core.data.schema.EntityType`,
    whose ``description`` is the definition shown to the model) from
    ``{"MAT": "a material"}``, ``["MAT", ...]`` or :class:`EntityType` s;
    names must be unique, non-empty, without spaces."""
    if isinstance(labels, Mapping):
        types = [EntityType(str(k), str(v or "")) for k, v in labels.items()]
    else:
        types = [x if isinstance(x, EntityType) else EntityType(str(x)) for x in labels]
    seen: set[str] = set()
    for t in types:
        if not t.name.strip() or any(ch.isspace() for ch in t.name):
            raise ConfigError(f"entity type {t.name!r} must be a non-empty name without spaces")
        if t.name in seen:
            raise ConfigError(f"entity type {t.name!r} is listed twice")
        seen.add(t.name)
    if not types:
        raise ConfigError("the schema has no entity types: give at least one label")
    return tuple(types)


def available_versions(prompt_dir: str | Path | None = None) -> list[str]:
    """Prompt versions found in ``prompt_dir`` (default: the packaged ones)."""
    folder = Path(prompt_dir) if prompt_dir else PROMPTS_DIR
    return sorted(p.name[: -len(".jinja")] for p in folder.glob("*.jinja"))


def answer_json(spans: Iterable, answer_format: str) -> str:
    """What an ideal reply for these spans looks like: the JSON list of
    ``{"text", "label"}`` in text order, or ``{"entities": [...]}``."""
    entities = [{"text": s.text, "label": s.label} for s in sorted(spans, key=lambda s: (s.start, s.end))]
    value = {"entities": entities} if answer_format == "object" else entities
    return json.dumps(value, ensure_ascii=False)


class PromptTemplate:
    """One prompt version, loaded from its file.

    ``version``: e.g. ``"ner.v1"``; ``prompt_dir``: where ``<version>.jinja``
    lives (default: ``allabel_core/prompts``). Raises ``ConfigError`` for an
    unknown version or a template that does not define the three macros.
    """

    def __init__(self, version: str = "ner.v1", prompt_dir: str | Path | None = None):
        if not isinstance(version, str) or not _VERSION.match(version):
            raise ConfigError(f"prompt version {version!r} is not a valid name (letters, digits, '.', '_', '-')")
        folder = Path(prompt_dir) if prompt_dir else PROMPTS_DIR
        path = folder / f"{version}.jinja"
        if not path.is_file():
            known = ", ".join(available_versions(folder)) or "none"
            raise ConfigError(f"no prompt version {version!r} in {folder} (available: {known})")
        self.version = version
        self.path = path
        env = SandboxedEnvironment(
            loader=FileSystemLoader(str(folder)),
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
        )
        try:
            self._module = env.get_template(path.name).module
        except TemplateError as exc:
            raise ConfigError(f"prompt {version!r} ({path}) does not load: {exc}") from None
        missing = [m for m in ("system", "user", "assistant") if not callable(getattr(self._module, m, None))]
        if missing:
            raise ConfigError(f"prompt {version!r} ({path}) lacks the macro(s) {', '.join(missing)}")

    def __repr__(self) -> str:
        return f"PromptTemplate({self.version!r})"

    def render(
        self,
        types: Sequence[EntityType],
        demos: Sequence[Sentence],
        query: Sentence | str,
        *,
        answer_format: str = "list",
    ) -> list[Message]:
        """The chat messages for ``query`` with ``demos`` (already in prompt
        order: least similar first). Demonstration answers use the demos'
        spans as they are (a DemoStore keeps only gold/confirmed ones)."""
        if answer_format not in ANSWER_FORMATS:
            raise ConfigError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {answer_format!r}")
        m = self._module
        labels = [{"name": t.name, "definition": t.description} for t in types]
        try:
            messages = [{"role": "system", "content": str(m.system(labels, answer_format)).strip()}]
            for demo in demos:
                messages.append({"role": "user", "content": str(m.user(demo.text)).strip()})
                messages.append(
                    {"role": "assistant", "content": str(m.assistant(answer_json(demo.spans, answer_format))).strip()}
                )
            text = query.text if isinstance(query, Sentence) else str(query)
            messages.append({"role": "user", "content": str(m.user(text)).strip()})
        except TemplateError as exc:
            raise ConfigError(f"prompt {self.version!r} failed to render: {exc}") from None
        return messages
