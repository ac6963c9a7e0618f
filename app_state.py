"""The dashboard's one place for session state and cached heavy resources.

Pages import from here; nothing here computes what ``allabel_core`` could.
Session keys are created in :func:`init_state`; ``st.session_state`` holds
ids and small values only (the project path, the current sentence id, UI
choices), never dataframes, indexes or clients.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st

from allabel_core.embed import Embedder

DEFAULTS = {
    "project_path": None,  # str path of the open project's SQLite file
    "current_id": None,  # sentence id open in the labeling panel
    "api_key": None,  # typed for this session only; never saved
}


def init_state() -> None:
    """Create every session key the pages use, once per session."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


@st.cache_resource(show_spinner="Loading the embedding model…")
def get_embedder() -> Embedder:
    """One embedder per server process (shared across sessions; read-only)."""
    return Embedder()
