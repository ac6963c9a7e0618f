"""Typed errors for the situations users actually meet.

Every message says what is wrong and, where it helps, what to do about it.
Nothing here imports anything heavy.
"""

from __future__ import annotations

from pathlib import Path


class AllabelError(Exception):
    """Base class: catch this to handle every error ALLabel raises on purpose."""


class DataFormatError(AllabelError, ValueError):
    """A file (or in-memory record) could not be read.

    ``path`` names the file, ``line`` the 1-based line (or record number for
    formats without lines), and ``reason`` what is wrong.
    """

    def __init__(self, reason: str, *, path: str | Path | None = None, line: int | None = None):
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.line = line
        where = self.path or "<data>"
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {reason}")


class EmptyPoolError(AllabelError, ValueError):
    """There is nothing to select from."""


class BudgetError(AllabelError, ValueError):
    """The budget cannot be met (too large, negative, or not a number)."""


class DimensionError(AllabelError, ValueError):
    """Two embedding matrices that must agree in width do not."""


class PredictorError(AllabelError, RuntimeError):
    """A predictor was asked for something it cannot do."""


class ConfigError(AllabelError, ValueError):
    """A setting is missing or out of range."""


class ProjectError(AllabelError, RuntimeError):
    """A project store could not be opened or updated."""


class EmbedderMismatchError(ProjectError):
    """A project's vectors came from one embedder and another was asked to
    add to them. ``stored`` and ``asked`` are the two identities."""

    def __init__(self, stored: str, asked: str):
        self.stored, self.asked = stored, asked
        super().__init__(
            f"this project's vectors were made by {stored}, but the embedder in use is {asked}; vectors from two "
            "models cannot be mixed. Switch back to that embedder, or re-embed the project with the new one "
            "(Settings → Re-embed, `allabel_core.project.tasks.reembed(project, embedder)`)"
        )


class LlmRequestError(PredictorError):
    """A request to an LLM endpoint failed (after any retries).

    ``kind``: ``connection``, ``timeout``, ``rate_limit``, ``server_error``,
    ``bad_request``, ``auth``, ``not_found``, ``bad_response`` or ``other``;
    ``status`` the HTTP status, when there was one. The message never
    contains an API key.
    """

    def __init__(self, message: str, *, kind: str = "other", status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


class SchemaError(ConfigError):
    """An entity-type schema or an edit to it is not valid (a duplicate or
    BIO-unsafe name, a rename onto an existing type, an unknown type)."""


class MissingTypesError(SchemaError):
    """Labels use entity types the schema lacks; ``missing`` lists them in order."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = list(missing)
