"""Entities: predict the rest of the pool from the confirmed sentences (in the
background, with progress and Stop), then every entity out: the entity table
and its summary, sortable and filterable, and downloads in every format."""

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.formats import FORMATS
from allabel_core.predictors.registry import describe_predictor
from allabel_core.project.export import kept_export, render_export
from allabel_core.project.rest import predict_rest
from allabel_core.views.entities import entity_summary, filter_table, table_csv

EXPORTS = {"conll": "CoNLL", "jsonl": "JSONL tokens", "doccano": "doccano", "labelstudio": "Label Studio",
           "spacy": "spaCy JSONL"}
INCLUDE = {"all": "confirmed and predicted", "confirmed": "confirmed by a person", "predicted": "predicted only"}
SHOWN_ROWS = 10_000  # the browser gets at most this many table rows per rerun; downloads hold them all

project = state.require_project()
jobs, key, tag = state.get_jobs(), f"rest:{project.path}", project.path.stem
st.title("Entities")

# -- predict the rest ------------------------------------------------------------
states = project.labels.states()
confirmed = sum(1 for s in states.values() if s == "confirmed")
rest = len(project) - confirmed
predicted = sum(1 for sid, (_, failed) in project.records.rest_fingerprints().items()
                if states.get(sid) != "confirmed" and not failed)
st.subheader("Predict the rest")
st.caption(f"{rest} sentences not confirmed by a person · {predicted} of them predicted · "
           f"{confirmed} confirmed sentences as demonstrations · predictor: "
           f"**{describe_predictor(project.settings)}**. A new run predicts only the sentences whose retrieved "
           "demonstrations, their labels, or the predictor changed.")
job = jobs.get(key)
if job is not None and job.running:
    if st.button("Stop", key="entities_stop", help="Stops after the batch being predicted; what is done is kept"):
        job.cancel()
        st.rerun()
elif st.button(f"Predict the rest ({rest} sentences)" if not predicted else
               f"Update the predictions ({rest} sentences; only what changed)", key="entities_predict", type="primary",
               disabled=confirmed == 0 or rest == 0,
               help=None if confirmed else "Confirm a few sentences on the Label page first"):
    predictor, embedder = state.get_predictor(project), state.get_embedder()
    jobs.submit(key, lambda job: predict_rest(project, embedder, predictor, job=job))
    st.rerun()
if not state.watch_job(key, "Predicting the rest") and job is not None and job.value is not None:
    (st.warning if job.value.cancelled or job.value.failed else st.success)(job.value.line())

# -- every entity out ---------------------------------------------------------------
st.subheader("Every entity")
include = st.radio("Include", list(INCLUDE), format_func=INCLUDE.get, key="entities_include", horizontal=True)
exp, table = kept_export(project, include)  # built again only when labels, predictions or types change
for note in exp.notes:
    st.info(note)
c = st.columns([2, 2, 2, 1])
labels = c[0].multiselect("Types", project.schema.names, key="entities_labels", placeholder="all types")
sources = c[1].multiselect("Source", sorted(set(table["source"])), key="entities_sources", placeholder="all sources")
text = c[2].text_input("Text contains", key="entities_text")
min_score = c[3].number_input("Min score", 0.0, 1.0, 0.0, 0.05, key="entities_min_score",
                              help="Predicted entities below this score are hidden; a person's labels have no score")
shown = filter_table(table, labels=labels, sources=sources, text=text, min_score=min_score or None)
config = {"score": st.column_config.NumberColumn(format="%.3f"),
          "sentence": st.column_config.TextColumn(width="large")}
tab_table, tab_summary = st.tabs([f"Entity table ({len(shown)} of {len(table)})", "Summary by entity string"])
with tab_table:
    if len(shown) > SHOWN_ROWS:
        st.caption(f"Showing the first {SHOWN_ROWS:,} of {len(shown):,} rows: filter to narrow them, "
                   "or download the table for every row.")
    st.dataframe(shown.head(SHOWN_ROWS), hide_index=True, column_config=config, key="entities_table")
with tab_summary:
    summary = entity_summary(shown)
    st.dataframe(summary, hide_index=True, key="entities_summary",
                 column_config={"mean_score": st.column_config.NumberColumn(format="%.3f")})

st.caption(f"{exp.confirmed} confirmed and {exp.predicted} predicted sentences; each span carries its source "
           "(human or the predictor) and score. Downloads hold every row of the choice above, unfiltered.")
d = st.columns([1, 1, 2])
# Built when clicked, not on every rerun (at 100k sentences the CSV is tens of MB).
d[0].download_button("Entity table (CSV)", lambda: table_csv(table), file_name=f"{tag}-entities-{include}.csv",
                     mime="text/csv", key="entities_download_table", type="primary", width="stretch")
d[1].download_button("Summary (CSV)", lambda: table_csv(entity_summary(table)), file_name=f"{tag}-summary-{include}.csv",
                     mime="text/csv", key="entities_download_summary", width="stretch")
st.caption("The same entities in an annotation format (a predicted span is a prediction with its score; "
           "a person's is an annotation):")
for col, (fmt, label) in zip(st.columns(len(EXPORTS)), EXPORTS.items()):
    # Built when clicked (in a thread of its own), not on every rerun.
    col.download_button(label, lambda fmt=fmt: render_export(kept_export(project, include)[0], fmt)[0],
                        file_name=f"{tag}-{include}{FORMATS[fmt].extensions[0]}", key=f"entities_download_{fmt}",
                        width="stretch", help=FORMATS[fmt].description)
