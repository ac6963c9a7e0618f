"""The dashboard's one place for session state and cached heavy resources.

With :mod:`.schema_editor` (the entity-type editor the pages share) and the
annotator component (:mod:`.annotator`), the only modules of the library that
import Streamlit; nothing outside :mod:`allabel_core.dashboard` imports it.
``app.py`` and the pages import from here; nothing here computes what ``allabel_core`` could.
Session keys are created in :func:`init_state`; ``st.session_state`` holds
ids and small values only (the project path, the current sentence id, UI
choices), never dataframes, indexes or clients.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st

from ..vectors.embed import Embedder
from ..errors import AllabelError, ProjectError
from ..jobs import Job, JobRegistry
from ..project import Actor, Project, find_project
from ..predictors.base import Predictor
from ..predictors.registry import predictor_from_settings
from ..vectors.layout import WARM_UP_STEPS, warm_up
from ..views.annotator import check_annotator_name

DEFAULTS = {
    "project_path": None,  # str path of the open project's SQLite file
    "current_id": None,  # sentence id open in the labeling panel
    "map_focus": None,  # sentence id opened by a click on the map
    "api_key": None,  # typed for this session only; never saved
    "inspect_id": None,  # sentence id the Predictions page shows (set from the map)
    "annotator": None,  # the person labeling in this session (asked once, kept in the URL)
    "label_notice": None,  # {kind, text, event}: what the annotator says about the last action, in place
    "label_ack": 0,  # id of the annotator's last event handled by the server
    "label_opened": None,  # (sentence id, time it was opened): for the lead time of a confirm or skip
    "label_checked": None,  # sentence id last confirmed, for the check against gold
    "sample_offered": False,  # `make run` opens the sample project once per session
    "url_project_error": None,  # the ?project= name that names no project, shown once
    "schema_message": None,  # (kind, text) shown once after a change in the entity-type editor
    "schema_pending_delete": None,  # type whose deletion waits for the person's yes
    "schema_synced": {},  # editor widget key -> saved value it last showed
    "defining_types": False,  # Home and Label show the type editor (the project had no types) until the person is done
    "settings_import_missing": None,  # types an import of labels would add, awaiting the person's yes
}


def init_state() -> None:
    """Create every session key the pages use, once per session, and keep
    the annotator's name in the URL."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("session_id", uuid.uuid4().hex)
    if st.session_state["annotator"] is None and st.query_params.get("annotator"):
        try:
            st.session_state["annotator"] = check_annotator_name(st.query_params["annotator"])
        except AllabelError:
            pass
    if st.session_state["annotator"] and st.query_params.get("annotator") != st.session_state["annotator"]:
        st.query_params["annotator"] = st.session_state["annotator"]


def actor() -> Actor:
    """Who acts in this session: the annotator's name and this session's id."""
    return Actor(st.session_state["annotator"] or "anonymous", st.session_state["session_id"])


def require_annotator() -> str:
    """The session's annotator name; asked once (then kept in the URL), else the page stops."""
    name = st.session_state["annotator"]
    if name:
        return name
    st.markdown("**Who is labeling?** Your name goes with every action you make (so undo is yours alone, "
                "and a class can compare), and into this page's link.")
    with st.form("label_annotator_form", border=False):
        typed = st.text_input("Your name or initials", key="label_annotator_name", max_chars=40)
        start = st.form_submit_button("Start labeling", key="label_annotator_start", type="primary")
    if start:
        try:
            st.session_state["annotator"] = check_annotator_name(typed)
        except AllabelError as exc:
            st.error(str(exc))
        else:
            st.query_params["annotator"] = st.session_state["annotator"]
            st.rerun()
    st.stop()


@st.cache_resource(show_spinner="Loading the embedding model…")
def _local_embedder() -> Embedder:
    """One local embedder per server process (shared across sessions; read-only)."""
    return Embedder()


@st.cache_resource(show_spinner=False, max_entries=8)
def _remote_embedder(base_url: str, model: str, batch_size: int, concurrency: int, api_key: str | None):
    from ..vectors.remote import build_embedder

    return build_embedder("openai", base_url=base_url, model=model, api_key=api_key,
                          batch_size=batch_size, concurrency=concurrency)


def get_embedder(project: Project | None = None):
    """The embedder the open project's settings choose (``embedder``: local,
    or an OpenAI-compatible ``/v1/embeddings`` server)."""
    project = project or current_project()
    settings = project.settings if project is not None else {}
    if settings.get("embedder", "local") != "openai":
        return _local_embedder()
    return _remote_embedder(settings.get("embed_base_url") or "", settings.get("embed_model") or "",
                            int(settings.get("embed_batch_size", 64)), int(settings.get("embed_concurrency", 4)),
                            st.session_state.get("api_key"))


@st.cache_resource(show_spinner=False, max_entries=16)
def get_project(path: str) -> Project:
    """One open :class:`Project` per file per server process. Safe to share
    across sessions: it opens one SQLite connection per thread, and every
    action commits before it returns (labels never live in a cache)."""
    return Project.open(path)


URL_KEY = "project"


def _follow_url() -> None:
    """The project named in the URL (``?project=<name>``) is the session's:
    a reload, a bookmark, back/forward or a second tab opens it. An unknown
    name is remembered for the page to report (with what exists), and dropped."""
    wanted = st.query_params.get(URL_KEY)
    if not wanted:
        return
    path = st.session_state.get("project_path")
    if path and Path(path).stem == wanted:
        return
    try:
        found = find_project(wanted)
    except ProjectError as exc:
        st.session_state["url_project_error"] = str(exc)
        del st.query_params[URL_KEY]
        return
    use_project(found)


def current_project() -> Project | None:
    """The session's open project, or None (a vanished file closes it). The
    URL wins over the session, and is kept naming the open project."""
    _follow_url()
    path = st.session_state.get("project_path")
    if not path:
        return None
    try:
        project = get_project(path)
    except ProjectError:
        st.session_state["project_path"] = None
        st.query_params.pop(URL_KEY, None)
        return None
    if st.query_params.get(URL_KEY) != project.path.stem:
        st.query_params[URL_KEY] = project.path.stem
    return project


def take_url_error() -> str | None:
    """The message for a ``?project=`` that named no project, once."""
    error = st.session_state.get("url_project_error")
    st.session_state["url_project_error"] = None
    return error


def use_project(path) -> None:
    """Make ``path`` the session's project (and the URL's), and resume at its saved position."""
    st.session_state["project_path"] = str(path)
    st.session_state["current_id"] = None
    st.session_state["schema_pending_delete"] = None
    st.session_state["defining_types"] = False
    st.query_params[URL_KEY] = Path(path).stem


HOME = "pages/0_Home.py"


def require_project() -> Project:
    """The open project; otherwise a pointer to Home, and the page stops.
    (``app.py`` lists the project pages only while a project is open; this
    covers a page run on its own and a project file that vanished.)"""
    init_state()
    project = current_project()
    if project is None:
        error = take_url_error()
        if error:
            st.error(error)
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


def map_needed(project: Project, stored=...) -> bool:
    """Whether the project's map is still to be laid out (only then is UMAP
    needed). ``stored``: ``project.records.projection()`` if the caller has
    already read it; otherwise it is told in SQL without reading the points."""
    if stored is ...:
        return not project.records.projection_fits_pool()
    return stored is None or stored[0] != project.pool_ids()


def get_predictor(project: Project) -> Predictor:
    """The predictor the project's settings name, with the session's typed
    key, if any, for an LLM. Call it in the script thread and hand the
    result to a background job: a worker thread has no session to read the
    key from. Cheap to build: caches live in the library."""
    return predictor_from_settings(project.settings, get_embedder(project), project.schema,
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


# -- the map's point clicks -----------------------------------------------------
_MAP_CLICK_JS = Path(__file__).resolve().parent / "map_click.js"


@st.cache_resource(show_spinner=False)
def _map_click_component():
    return st.components.v2.component("allabel_map_click", js=_MAP_CLICK_JS.read_text(encoding="utf-8"))


def map_click(chart_key: str) -> str | None:
    """Listen for single clicks on the points of the plotly chart keyed
    ``chart_key``, in every drag mode (lasso, box, pan), and return the id of
    the point clicked since the last run (None otherwise). Mount it before
    the chart, so this run's chart already shows what the click opened; it
    draws nothing."""
    result = _map_click_component()(key=f"{chart_key}_click", data={"chart": chart_key},
                                    on_clicked_change=lambda: None)
    clicked = getattr(result, "clicked", None)
    return str(clicked["id"]) if isinstance(clicked, dict) and clicked.get("id") else None


@st.cache_data(show_spinner="Running each strategy for this budget…", max_entries=32)
def compare_strategies(path: str, budget: int, seed: int, threshold: float, signature: tuple):
    """Each strategy's picks for one budget and seed on the project at
    ``path`` (:func:`allabel_core.views.map_data.compare_for_project`), cached per
    budget and seed; ``signature`` (pool ids, split, order, k, gold) keys the
    cache so a changed project is recomputed."""
    from ..project import tasks
    from ..views import map_data

    project = get_project(path)
    embedder = get_embedder()
    return map_data.compare_for_project(project, tasks.pool_vectors(project, embedder),
                                        tasks.target_vectors(project, embedder), budget, seed=seed,
                                        embedder=embedder, threshold=threshold)


def compare_signature(project) -> tuple:
    s = project.settings
    return (tuple(project.pool_ids()), tuple(s["split"]), tuple(s["stage_order"]), int(s["k"]), project.has_gold(),
            project.target() is not None)


@st.cache_data(show_spinner=False, max_entries=16)
def region_labels(path: str, _xy, texts: tuple, signature: str):
    """Names for the map's regions (:func:`allabel_core.views.regions.region_labels`),
    cached per layout (``signature``)."""
    from ..views.regions import region_labels as labels

    return labels(_xy, list(texts))
