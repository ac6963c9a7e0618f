"""A labeling project: one SQLite file, its parts, and the workflows over it."""

from .core import (  # noqa: F401
    MAX_UPLOAD_BYTES,
    EntityType,
    Project,
    ProjectInfo,
    Schema,
    SpanError,
    Undone,
    create_project,
    create_project_from_bytes,
    create_sample_project,
    from_utf16,
    list_projects,
    load_schema,
    utf16_offset,
)
