"""The dashboard's one place for session state and cached heavy resources.

The only module of the library that imports Streamlit; nothing else in
:mod:`allabel_core` imports it. ``app.py`` and the pages import from here; nothing here computes what ``allabel_core`` could.
Session keys are created in :func:`init_state`; ``st.session_state`` holds
ids and small values only (the project path, the current sentence id, UI
choices), never dataframes, indexes or clients.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st

from ..vectors.embed import Embedder
from ..errors import ProjectError
from ..jobs import Job, JobRegistry
from ..project import Project
from ..predictors.base import Predictor
from ..predictors.registry import predictor_from_settings
from ..vectors.layout import WARM_UP_STEPS, warm_up

DEFAULTS = {
    "project_path": None,  # str path of the open project's SQLite file
    "current_id": None,  # sentence id open in the labeling panel
    "api_key": None,  # typed for this session only; never saved
    "inspect_id": None,  # sentence id the Predictions page shows (set from the map)
    "label_message": None,  # (kind, text) shown once after a labeling action: "success" / "warning" / "error"
    "sample_offered": False,  # `make run` opens the sample project once per session
}


def init_state() -> None:
    """Create every session key the pages use, once per session."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


@st.cache_resource(show_spinner="Loading the embedding model…")
def get_embedder() -> Embedder:
    """One embedder per server process (shared across sessions; read-only)."""
    return Embedder()


@st.cache_resource(show_spinner=False, max_entries=16)
def get_project(path: str) -> Project:
    """One open :class:`Project` per file per server process. Safe to share
    across sessions: it opens one SQLite connection per thread, and every
    action commits before it returns (labels never live in a cache)."""
    return Project.open(path)


def current_project() -> Project | None:
    """The session's open project, or None (a vanished file closes it)."""
    path = st.session_state.get("project_path")
    if not path:
        return None
    try:
        return get_project(path)
    except ProjectError:
        st.session_state["project_path"] = None
        return None


def use_project(path) -> None:
    """Make ``path`` the session's project and resume at its saved position."""
    st.session_state["project_path"] = str(path)
    st.session_state["current_id"] = None


HOME = "pages/0_Home.py"


def require_project() -> Project:
    """The open project; otherwise a pointer to Home, and the page stops.
    (``app.py`` lists the project pages only while a project is open; this
    covers a page run on its own and a project file that vanished.)"""
    init_state()
    project = current_project()
    if project is None:
        st.info("No project is open. Open or create one on the Home page.")
        st.stop()
    return project


# -- map, curve and predictions pages ------------------------------------------
@st.cache_resource(show_spinner=False)
def get_jobs() -> JobRegistry:
    """The server's background jobs by key (shared across sessions, so a
    rerun or a second tab finds the running job instead of starting another)."""
    return JobRegistry()


@st.cache_resource(show_spinner=False)
def umap_warm_up() -> Job:
    """Pay numba's compile cost for UMAP once per server process, in the
    background; pages show its progress and never wait on it unless a map
    must be laid out."""
    def work(job: Job) -> float:
        return warm_up(progress=lambda done, total: job.progress(done, total, WARM_UP_STEPS[done]))

    return Job(work, name="umap-warm-up").start()


def get_predictor(project: Project) -> Predictor:
    """The predictor the project's settings name, with the session's typed
    key, if any, for an LLM. Call it in the script thread and hand the
    result to a background job: a worker thread has no session to read the
    key from. Cheap to build: caches live in the library."""
    return predictor_from_settings(project.settings, get_embedder(), project.schema,
                                   api_key=st.session_state.get("api_key"))


def watch_job(key: str, label: str) -> bool:
    """If the background job ``key`` is running, show its progress, polling
    once a second in a fragment, and rerun the whole page when it ends (so
    its results appear). A failed job shows its error. Returns whether the
    job is running."""
    job = get_jobs().get(key)
    if job is not None and job.state == "failed":
        st.error(f"{label} failed: {job.error}")
    if job is None or not job.running:
        return False

    @st.fragment(run_every=1.0)
    def poll() -> None:
        if not job.running:
            st.rerun(scope="app")
        s = job.status()
        st.progress(min(max(s["fraction"], 0.0), 1.0), text=f"{label}: {s['message'] or 'starting'} ({s['seconds']:.0f} s)")

    poll()
    return True
