"""Map: the pool's embedding space, what each stage picked and why; lasso or
box-select points to queue them for labeling or inspect them."""

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.project import tasks
from allabel_core.views import figures, project_data, tables

project = state.require_project()
jobs, warm, key = state.get_jobs(), state.umap_warm_up(), str(project.path)
embedder = state.get_embedder()
st.title("Map of the pool")

stored = project.records.projection()
if stored is None or stored[0] != project.pool_ids():
    if not state.watch_job(f"map:{key}", "Laying out the map"):
        jobs.submit(f"map:{key}", lambda job: tasks.compute_map(project, embedder, warm=warm, job=job))
        st.rerun()
    st.stop()
ids, xy, _ = stored

quotas = tasks.stage_quotas(project)
cols = st.columns([1.3, 1, 1, 1, 1])
budget = cols[0].number_input("Budget (sentences)", 1, len(project), int(project.settings["budget"]), key="map_budget")
if budget != project.settings["budget"]:
    project.set_settings(budget=int(budget))
    st.rerun()
runs = {s: cols[i + 1].button(f"Run {s} ({quotas[s]})", key=f"map_run_{s}") for i, s in enumerate(quotas)}
if cols[4].button("Run all three", key="map_run_all", type="primary"):
    runs = dict.fromkeys(quotas, True)
if any(runs.values()):
    stages = [s for s, on in runs.items() if on]
    predictor = state.get_predictor(project)
    jobs.submit(f"stages:{key}", lambda job: tasks.run_stages(project, embedder, predictor, stages,
                                                              progress=job.progress))
    st.rerun()
state.watch_job(f"stages:{key}", "Selecting")

mode = st.radio("Colour by", figures.COLOR_MODES, horizontal=True, key="map_color_by")
chosen = figures.ids_from_selection(st.session_state.get("map_chart"))
links = None
if len(chosen) == 1:  # one sentence: lines to the demonstrations retrieved for it
    links = (chosen[0], tasks.demonstrations_for(project, embedder, chosen[0], project.settings["k"])[0])
last = jobs.get(f"stages:{key}")
added = last.value if last is not None and last.state == "done" else []
texts = dict(zip(ids, project.pool().texts))
fig = figures.map_figure(ids, xy, [texts[i] for i in ids], **project_data.map_coloring(project, mode), links=links,
                   highlight=[p["sentence_id"] for p in added])
event = st.plotly_chart(fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"))
st.caption("Drag with the lasso or box tool to select sentences; click one point to see the demonstrations "
           "retrieved for it (lines). Double-click empty space to clear.")

chosen = figures.ids_from_selection(event)
if chosen:
    st.subheader(f"{len(chosen)} selected")
    a, b = st.columns(2)
    # A callback, so the map drawn in this same run already shows them queued.
    a.button(f"Queue {len(chosen)} for labeling", key="map_enqueue", type="primary", on_click=lambda: st.toast(
        f"Queued {project.selections.enqueue(chosen)} new sentences (already selected ones stay where they are)."))
    if b.button("Inspect in Predictions", key="map_inspect"):
        st.session_state["inspect_id"] = chosen[0]
        st.switch_page("pages/4_Predictions.py")
    st.dataframe(project_data.selected_table(project, chosen, texts), hide_index=True)
if added:
    st.subheader("What the last run added, and why")
    st.dataframe(tables.why_picked_table(added, texts), hide_index=True)
with st.expander("Every selection so far"):
    st.dataframe(tables.why_picked_table(project.selections.table().to_dict("records"), texts), hide_index=True)
