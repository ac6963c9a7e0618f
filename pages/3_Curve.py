"""Curve: F1 against budget — the experiment on gold data (ALLabel against
the baselines, bands over seeds, the full-pool ceiling) and your own curve as
you confirm labels."""

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.errors import AllabelError
from allabel_core.predictors.registry import get_predictor_spec
from allabel_core.project import tasks
from allabel_core.scoring import SCORING
from allabel_core.selection import strategy_names
from allabel_core.selection.budget import parse_budgets
from allabel_core.views import figures, project_data, tables

project = state.require_project()
jobs, key = state.get_jobs(), str(project.path)
# Resolved here, in the script thread: a background job gets these values
# (with the key typed in Settings), never the session.
embedder, predictor = state.get_embedder(), state.get_predictor(project)
st.title("F1 against budget")
st.caption(f"Scores: {SCORING}. Predictor: {predictor.name}; demonstrations retrieved with "
           f"{project.settings['retriever']}. Beside F1: demonstration entity coverage@5, the share of a target "
           "sentence's gold entities among its 5 retrieved demonstrations' entities.")

gold_ok = project.target() is not None and project.has_gold("target") and project.has_gold("pool")
if gold_ok:
    with st.expander("The experiment (simulated annotator: gold revealed for selected sentences only)", expanded=True):
        c = st.columns([3, 2, 1, 1])
        strategies = c[0].multiselect("Strategies", strategy_names(), strategy_names(), key="curve_strategies")
        budgets = c[1].text_input("Budgets (fractions of the pool)", "0.01,0.02,0.05,0.1,0.2", key="curve_budgets")
        seeds = c[2].number_input("Seeds", 1, 10, len(project.settings["seeds"]), key="curve_seeds")
        experiment = jobs.get(f"curve:{key}")
        if experiment is not None and experiment.running:
            if c[3].button("Stop", key="curve_stop"):
                experiment.cancel()
        elif c[3].button("Run", key="curve_run", type="primary"):
            try:
                fracs = parse_budgets(budgets)
            except AllabelError as exc:
                st.error(f"Budgets: {exc}")
                st.stop()
            jobs.submit(f"curve:{key}", lambda job: tasks.run_experiment(
                project, embedder, predictor, strategies=strategies,
                budgets=fracs, seeds=int(seeds), job=job))
            st.rerun()
else:
    st.info("No gold labels for both the pool and a target set: only your own curve is shown.")

confirmed = sum(1 for s in project.labels.states().values() if s == "confirmed")
live = project.records.curve_results("live")
if confirmed and not ("n_labeled" in live and (live["n_labeled"] == confirmed).any()):
    jobs.submit(f"live:{key}", lambda job: tasks.keep_live_curve(
        project, embedder, predictor, job, predict_pool=not get_predictor_spec(project.settings["predictor"]).remote))


def running() -> bool:
    return any((j := jobs.get(f"{k}:{key}")) is not None and j.running for k in ("curve", "live"))


polling = running()


@st.fragment(run_every=2.0 if polling else None)
def curve() -> None:
    if polling and not running():
        st.rerun(scope="app")  # finished: refresh the tables below too
    for k, label in (("curve", "Experiment"), ("live", "Refreshing predictions for your curve")):
        job = jobs.get(f"{k}:{key}")
        if job is not None and job.running:
            s = job.status()
            st.progress(s["fraction"], text=f"{label}: {s['message']} — {s['done']}/{s['total']} ({s['seconds']:.0f} s)")
        elif job is not None and job.state == "failed":
            st.error(f"{label} failed: {job.error}")
    results = project.records.curve_results("experiment")
    c = st.columns(2)
    band = c[0].radio("Spread over seeds", ["minmax", "std"], horizontal=True, key="curve_band",
                      format_func=lambda b: "min–max" if b == "minmax" else "± std")
    metric = c[1].radio("Measure", list(figures.METRICS), horizontal=True, key="curve_metric",
                        format_func=lambda m: "F1" if m == "f1" else "demonstration entity coverage@5")
    st.plotly_chart(figures.curve_figure(results, band=band, live=project.records.curve_results("live"),
                                         pool_size=len(project), metric=metric), key="curve_chart")
    if len(results):
        st.dataframe(tables.curve_table(results, band=band), hide_index=True)


curve()
scored = project_data.latest_scores(project)
left, right = st.columns([3, 2])
with left:
    st.subheader("Per-type F1 of the newest predictions")
    if scored is None:
        st.caption("No predictions scored against gold yet: confirm a few labels.")
    else:
        st.caption(f"Scored on the {scored.label}.")
        st.dataframe(tables.per_type_table(scored.scores), hide_index=True)
with right:
    st.subheader("LLM usage (ledger)")
    t = project.records.ledger_totals()
    a, b, c = st.columns(3)
    a.metric("Calls", f"{t['calls']:,}", help=f"{t['cached_calls']:,} answered from the cache")
    b.metric("Tokens", f"{t['prompt_tokens'] + t['completion_tokens']:,}",
             help=f"{t['prompt_tokens']:,} prompt + {t['completion_tokens']:,} completion")
    c.metric("Cost", "—" if t["cost"] is None else f"${t['cost']:.4f}", help="from the price table, if one is set")
