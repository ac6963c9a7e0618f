"""Home: open or create a project and see where it stands."""

from __future__ import annotations

import os

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.dashboard.schema_editor import schema_editor
from allabel_core.data.schema import schema_from_bytes
from allabel_core.errors import AllabelError
from allabel_core.formats import FORMATS
from allabel_core.project import (
    MAX_UPLOAD_BYTES,
    create_project_from_bytes,
    create_sample_project,
    list_projects,
)
from allabel_core.predictors.registry import describe_predictor


def open_new(create) -> None:
    """Create a project with ``create()`` and open it; a file that cannot be
    read shows its error (with the line) and nothing is created."""
    try:
        created = create()
    except AllabelError as exc:
        st.error(str(exc))
    else:
        created.close()
        state.use_project(created.path)
        st.rerun()


st.title("ALLabel")
st.caption(
    "Choose the sentences worth annotating (diversity → similarity → uncertainty), label them, "
    "and watch entity recognition by retrieval of similar annotated sentences improve with the budget."
)

project = state.current_project()  # the URL's (?project=) first: a reload keeps the person's project
url_error = state.take_url_error()
if url_error:
    st.error(url_error)

# `make run` starts on the sample data: a new session opens the sample
# project (created on first use) unless the person already chose one.
if os.environ.get("ALLABEL_OPEN_SAMPLE") == "1" and not st.session_state["sample_offered"]:
    st.session_state["sample_offered"] = True
    if project is None and not url_error:
        with st.spinner("Opening the sample project…"):
            open_new(create_sample_project)

if project is not None:
    if state.map_needed(project):  # compile UMAP's layout code now, in the background, so the Map opens warm
        state.umap_warm_up()
    prog, settings, last = project.progress(), project.settings, project.records.last_f1()
    st.subheader(project.name)
    c = st.columns(4)
    c[0].metric("Confirmed / budget", f"{prog['confirmed']} / {prog['budget']}")
    c[1].metric("Selected", prog["selected"], help="Sentences picked by the stages or queued by hand")
    c[2].metric("Pool", prog["pool"])
    c[3].metric("Last F1", "—" if last is None else f"{last['f1']:.3f}",
                help=None if last is None else f"{last['strategy']} at budget {last['budget']} (run {last['run']})")
    st.progress(min(1.0, prog["confirmed"] / max(1, prog["budget"])),
                text=f"{prog['confirmed']} of {prog['budget']} sentences confirmed; {prog['pending']} waiting in the queue")
    st.markdown(f"Predictor in use: **{describe_predictor(settings)}** · file `{project.path}`")
    if not project.schema.types:  # a new project from plain text: its types come first
        st.session_state["defining_types"] = True
    if st.session_state["defining_types"]:
        st.subheader("Entity types")
        schema_editor(project)
        if st.button("Done: on to the Map", key="home_types_done", type="primary", disabled=not project.schema.types,
                     help="Add at least one type first" if not project.schema.types else None):
            st.session_state["defining_types"] = False
            st.rerun()
    elif prog["selected"] == 0:
        st.info("Next: open the **Map** and run the three stages to choose the sentences worth labeling.")
        st.page_link("pages/1_Map.py", label="Open the Map", icon=":material/map:")
    else:
        st.page_link("pages/2_Label.py", label="Label the queue", icon="✏️")
    if prog["confirmed"]:
        st.page_link("pages/6_Entities.py", label="Predict the rest and get every entity out",
                     icon=":material/table_view:")
    st.divider()

left, mid, right = st.columns(3)
with left:
    st.subheader("Open a project")
    infos = [i for i in list_projects() if i.error is None]
    if infos:
        choice = st.selectbox(
            "Recent projects", range(len(infos)), key="home_recent",
            format_func=lambda i: f"{infos[i].name} — {infos[i].confirmed}/{infos[i].pool_size} confirmed",
        )
        if st.button("Open", key="home_open", type="primary"):
            state.use_project(infos[choice].path)
            st.rerun()
    else:
        st.caption("No projects yet.")
with mid:
    st.subheader("Try the sample")
    st.caption("Materials-science sentences with six entity types (MAT PRO VAL APL SMT CMT) and a gold test set.")
    if st.button("Open the sample project", key="home_sample", type="primary"):
        open_new(create_sample_project)
with right:
    st.subheader("Start from your file")
    pool_file = st.file_uploader("Sentences to choose from (pool)", key="home_upload")
    target_file = st.file_uploader("Optional test set (with gold labels)", key="home_upload_target")
    fmt = st.selectbox("Format", ["auto", *FORMATS], key="home_upload_fmt",
                       format_func=lambda f: "tell from the file" if f == "auto" else FORMATS[f].description)
    text_column = None
    if pool_file is not None and pool_file.name.lower().endswith((".csv", ".tsv")):
        from allabel_core.formats import table_columns

        try:
            columns = table_columns(pool_file.getvalue(), pool_file.name)
        except AllabelError as exc:
            st.error(str(exc))
            columns = []
        if columns:
            text_column = st.selectbox("Text column", columns, key="home_upload_text_column",
                                       index=columns.index("text") if "text" in columns else 0)
    split = st.checkbox("Split long paragraphs into sentences", key="home_upload_split",
                        help="Cut each line or record at sentence boundaries (pySBD); where each sentence "
                             "came from is kept (doc_id, doc_start, doc_end)")
    schema_file = st.file_uploader("Optional schema.json (entity types)", type=["json"], key="home_upload_schema")
    name = st.text_input("Project name", key="home_upload_name", placeholder="from the file name")
    st.caption(f"Up to {MAX_UPLOAD_BYTES // 2**20} MB per file. A file that cannot be read creates nothing. "
               "Plain text (one sentence per line), {\"text\"} JSONL, .csv/.tsv, or an annotated file.")
    if st.button("Create project", key="home_create", disabled=pool_file is None):
        bar = st.progress(0.0, text=f"Reading {pool_file.name}…")

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(1, total)), text=f"Reading {pool_file.name}: {done:,} of {total:,} lines")

        open_new(lambda: create_project_from_bytes(
            name, pool_file.getvalue(), pool_file.name, fmt=None if fmt == "auto" else fmt,
            target=(target_file.getvalue(), target_file.name) if target_file else None,
            text_column=text_column, split_sentences=split,
            schema=schema_from_bytes(schema_file.getvalue(), schema_file.name) if schema_file else None,
            progress=progress,
        ))
        bar.empty()
