"""A labeling project: one SQLite file, the parts that read and write it
(:mod:`.labels`, :mod:`.selections`, :mod:`.records`), and the workflows
over it as plain functions (:mod:`.tasks`, :mod:`.predict`, :mod:`.scoring`)."""

from .core import Project
from .files import (
    MAX_UPLOAD_BYTES,
    ProjectInfo,
    create_project,
    create_project_from_bytes,
    create_sample_project,
    find_project,
    list_projects,
    project_path,
    projects_folder,
    read_input,
)
from .labels import Actor, SpanError, StaleError, Undone

__all__ = [
    "MAX_UPLOAD_BYTES", "Actor", "Project", "ProjectInfo", "SpanError", "StaleError", "Undone", "create_project",
    "create_project_from_bytes", "create_sample_project", "find_project", "list_projects", "project_path",
    "projects_folder", "read_input",
]
