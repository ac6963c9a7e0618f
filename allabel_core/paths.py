"""Where ALLabel keeps things on disk.

Caches are shared by the notebook, the CLI and the dashboard, so a corpus is
embedded once and a paid LLM call is made once, whichever face asked.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$ALLABEL_CACHE_DIR``, else ``~/.cache/allabel``."""
    root = os.environ.get("ALLABEL_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "allabel"
    path.mkdir(parents=True, exist_ok=True)
    return path


def projects_dir() -> Path:
    """``$ALLABEL_PROJECTS_DIR``, else ``./projects``."""
    root = os.environ.get("ALLABEL_PROJECTS_DIR")
    path = Path(root) if root else Path.cwd() / "projects"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sample_data_dir() -> Path:
    """The sample corpus shipped with the project."""
    return Path(__file__).resolve().parent.parent / "sample_data"
