"""Map: the pool's embedding space, what each stage picked and why, what
other strategies would pick, and where the selection leaves gaps. Click a
point to open its sentence; lasso or box-select points to queue them.

Above ``figures.DRAW_ALL_UP_TO`` sentences the map draws a density layer and a
sample of points, and a lasso or box is resolved against the whole layout
(:mod:`allabel_core.views.lasso`), so it selects every sentence inside it."""

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.project import tasks
from allabel_core.experiment import compare, coverage
from allabel_core.views import figures, lasso, map_data, project_data, tables
from allabel_core.views.markup import sentence_html

VIEWS = {"explore": "explore: what the stages picked", "compare": "compare: what each strategy would pick",
         "gaps": "gaps: where the selection does not reach"}

project = state.require_project()
jobs, key = state.get_jobs(), str(project.path)
embedder = state.get_embedder()
if st.session_state.get("map_project") != key:  # another project: its ids mean nothing here
    for stale in ("map_chart", "map_focus", "map_last_single"):
        st.session_state.pop(stale, None)
    st.session_state["map_project"] = key
st.title("Map of the pool")

stored = project.records.projection()
if state.map_needed(project, stored):  # UMAP is imported and compiled only then
    if not state.watch_job(f"map:{key}", "Laying out the map"):
        warm = state.umap_warm_up()
        jobs.submit(f"map:{key}", lambda job: tasks.compute_map(project, embedder, warm=warm, job=job))
        st.rerun()
    st.stop()
ids, xy, _ = stored
sampled = len(ids) > figures.DRAW_ALL_UP_TO
SHOWN_ROWS = 1000  # rows of the selected-sentences table; a lasso at 100k can hold tens of thousands
STATIC_ROWS = 100  # up to this many picks are listed in a static table


def picked(event) -> list[str]:
    """The sentences a selection event picked: on a sampled map, every one
    inside its lassos and boxes; else (and for clicks) the points Plotly
    marked, which then are all the points inside, legend toggles honoured."""
    exact = lasso.ids_in_selection(event, ids, xy) if sampled else None
    return exact if exact is not None else figures.ids_from_selection(event)


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
fraction, text = map_data.budget_progress(project.progress())
st.progress(fraction, text=text)

texts = project.pool_texts()
view_col, opt_col = st.columns([3, 2])
view = view_col.radio("View", VIEWS, horizontal=True, key="map_view", format_func=VIEWS.get)
regions_on = opt_col.toggle("Name the regions (most distinctive words)", key="map_regions")
last = jobs.get(f"stages:{key}")
added = last.value if last is not None and last.state == "done" else []
draw: dict = {"highlight": [p["sentence_id"] for p in added], "keep": map_data.chosen_ids(project) if sampled else ()}
summary = None
if view == "explore":
    mode = st.radio("Colour by", figures.COLOR_MODES, horizontal=True, key="map_color_by")
    draw.update(project_data.map_coloring(project, mode))
elif view == "compare":
    c1, c2, c3 = st.columns([1, 1, 1])
    n = c1.number_input("Budget to compare", 1, len(project), int(project.settings["budget"]), key="map_compare_budget")
    seed = c2.number_input("Seed", 0, 10_000, int(project.settings.get("seed", 0)), key="map_compare_seed")
    served_at = c3.slider("Served at similarity", 0.1, 0.9, coverage.SERVED_AT, 0.05, key="map_served_at")
    results = state.compare_strategies(key, int(n), int(seed), served_at, state.compare_signature(project))
    shown = st.multiselect("Show", [r.label for r in results], default=[compare.LABELS["random"], compare.LABELS["allabel"]],
                           key="map_compare_show")
    layers = {r.label: [ids[i] for i in r.indices] for r in results}
    styles = {r.label: figures.STRATEGY_MARKERS[r.name] for r in results if r.name in figures.STRATEGY_MARKERS}
    draw.update(groups=[figures.NOT_SELECTED] * len(ids), color_by="strategy", highlight=[], layers=layers,
                visible_layers=shown, layer_styles=styles)
    summary = compare.compare_table(results)
    if st.toggle("Side by side", key="map_compare_side") and shown:
        st.plotly_chart(figures.side_by_side_figure(
            ids, xy, [texts[i] for i in ids], {n: layers[n] for n in shown}, layer_styles=styles,
            titles={r.label: f"{r.label}: {r.coverage.served:.0%} served" for r in results}), key="map_side")
else:
    kinds = map_data.GAP_KINDS if project.has_gold() else map_data.GAP_KINDS[:1]
    g1, g2 = st.columns([3, 1])
    kind = g1.radio("Colour each sentence by", kinds, horizontal=True, key="map_gap_kind")
    served_at = g2.slider("Served at similarity", 0.1, 0.9, coverage.SERVED_AT, 0.05, key="map_served_at")
    vectors = tasks.pool_vectors(project, embedder)
    gaps = map_data.gap_coloring(project, vectors, kind, threshold=served_at)
    summary = gaps.pop("summary")
    draw.update(gaps)

clicked = state.map_click("map_chart")  # before the chart: this run's chart shows the click
chosen = picked(st.session_state.get("map_chart"))
if clicked:
    st.session_state["map_focus"] = clicked
elif len(chosen) == 1 and st.session_state.get("map_last_single") != chosen[0]:  # a click in pan mode selects
    st.session_state["map_focus"] = chosen[0]
st.session_state["map_last_single"] = chosen[0] if len(chosen) == 1 else None
focus = st.session_state.get("map_focus") if st.session_state.get("map_focus") in texts else None
demos, sims, demo_kind = map_data.map_demonstrations(project, embedder, focus) if focus else ([], [], "")
if focus:
    draw.update(focus=focus, links=(focus, demos) if demos else None,
                links_name="retrieved demonstrations" if demo_kind == "retrieved" else "would be retrieved once labeled",
                links_dash="solid" if demo_kind == "retrieved" else "dash")
if regions_on:
    draw["regions"] = state.region_labels(key, xy, tuple(texts[i] for i in ids), f"{len(ids)}:{hash(xy.tobytes())}")
fig = figures.map_figure(ids, xy, [texts[i] for i in ids], **draw)
event = st.plotly_chart(fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"))
st.caption("Click a point to open its sentence and draw lines to the demonstrations retrieved for it. Drag with "
           "the lasso or box tool to select sentences and queue them. Double-click empty space to clear.")
if sampled:
    st.caption(f"{len(ids):,} sentences: the grey shading counts every one of them (hover a cell for its count); "
               f"the points are a sample, every chosen sentence first (up to {figures.SAMPLE_POINTS:,}) and "
               f"{figures.SAMPLE_POINTS:,} of the rest. A lasso or box selects every sentence inside it, drawn or not.")

if view == "compare":
    st.caption("Each strategy starts from nothing selected, with the same budget and seed, through the functions "
               f"the budget curve runs. Served: the share of the target whose most similar pick has cosine "
               f"similarity ≥ {served_at:g}; entity coverage (with gold): the share of the target's entity mentions "
               f"found among the {project.settings['k']} demonstrations retrieved for their sentence.")
    with st.container(key="map_compare_table"):
        st.dataframe(summary, hide_index=True)
elif view == "gaps":
    if isinstance(summary, dict):
        st.metric("Entity mentions found among their sentence's demonstrations",
                  "—" if summary["sentences"] == 0 else f"{summary['entity coverage']:.0%}",
                  help=f"mean over {summary['sentences']} unchosen pool sentences with gold entities")
    else:
        a, b = st.columns(2)
        a.metric(f"Unchosen sentences served (similarity ≥ {summary.threshold:g})",
                 "—" if summary.sentences == 0 or summary.mean != summary.mean else f"{summary.served:.0%}")
        b.metric("Mean highest similarity to a chosen sentence",
                 "—" if summary.mean != summary.mean else f"{summary.mean:.3f}")
    if summary is not None and getattr(summary, "sentences", 1) and not map_data.chosen_ids(project):
        st.info("Nothing is chosen yet, so every sentence is a gap: run the stages or lasso some sentences first.")
    st.caption("Red regions are what no chosen sentence resembles: lasso one to queue exactly those sentences.")

if focus:
    card = map_data.sentence_card(project, focus)
    with st.container(border=True, key="map_sentence"):
        head, close = st.columns([6, 1])
        head.markdown(f"**Sentence {card.id}** · {card.stage} · {card.status}")
        if close.button("Close", key="map_focus_close"):
            st.session_state["map_focus"] = None
            st.rerun()
        st.markdown(sentence_html(project.sentence(focus), project.schema, spans=card.spans), unsafe_allow_html=True)
        if card.reason:
            st.markdown(f"**Why picked:** {card.reason}", help="the stage's own reason, as recorded")
        if card.spans_from:
            st.caption(f"Spans: {card.spans_from}")
            st.dataframe(tables.span_diff_table(card.spans, card.gold), hide_index=True, key="map_sentence_spans")
        if demos:
            what = "Retrieved demonstrations" if demo_kind == "retrieved" else (
                "No confirmed sentence yet: these chosen sentences would be retrieved once labeled")
            st.markdown(f"**{what}** (lines on the map)")
            st.table(tables.linked_sentences_table(demos, sims, texts))
        else:
            st.caption("Nothing to retrieve yet: run the stages or label a sentence first.")
        if card.status == "not labeled" and card.stage == figures.NOT_SELECTED:
            st.button("Queue this sentence", key="map_queue_one", on_click=lambda: st.toast(
                f"Queued {project.selections.enqueue([focus])} new sentence."))

chosen = picked(event)
if len(chosen) > 1 or (chosen and chosen[0] != focus):
    st.subheader(f"{len(chosen)} selected")
    preview = map_data.queue_preview(project, chosen)
    if preview.warning():
        st.warning(preview.warning())
    a, b = st.columns(2)
    # A callback, so the map drawn in this same run already shows them queued.
    a.button(f"Queue {len(chosen)} for labeling" + (" (over the budget)" if preview.over else ""),
             key="map_enqueue", type="primary", on_click=lambda: st.toast(
                 f"Queued {project.selections.enqueue(chosen)} new sentences (already selected ones stay where they are)."
                 + (f" {preview.warning()}" if preview.warning() else "")))
    if b.button("Inspect in Predictions", key="map_inspect"):
        st.session_state["inspect_id"] = chosen[0]
        st.switch_page("pages/4_Predictions.py")
    if len(chosen) > SHOWN_ROWS:
        st.caption(f"The first {SHOWN_ROWS:,} of the {len(chosen):,} selected sentences, in pool order; "
                   "queueing takes all of them.")
    st.dataframe(project_data.selected_table(project, chosen[:SHOWN_ROWS], texts), hide_index=True)


def why_picked(rows: list) -> None:
    """Picks and their reasons: a static table (long reasons wrap) while it
    is short, a scrolling grid past :data:`STATIC_ROWS` (a static table of
    thousands of rows takes the browser seconds to lay out)."""
    if len(rows) > SHOWN_ROWS:
        st.caption(f"The first {SHOWN_ROWS:,} of {len(rows):,}, in the order selected.")
    table = tables.why_picked_table(rows[:SHOWN_ROWS], texts)
    if len(table) <= STATIC_ROWS:
        st.table(table)
    else:
        st.dataframe(table, hide_index=True)


if added:
    st.subheader("What the last run added, and why")
    why_picked(added)
with st.expander("Every selection so far"):
    why_picked(project.selections.table().to_dict("records"))
