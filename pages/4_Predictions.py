"""Predictions: for one sentence, what was retrieved, what the predictor was
asked and answered, what it found, and how that differs from gold."""

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.project import predict
from allabel_core.views import tables
from allabel_core.views.markup import sentence_html

project = state.require_project()
st.title("Predictions")

target = project.target()
role = st.radio("Sentences", ["pool", "target"] if target is not None else ["pool"], horizontal=True, key="pred_role")
sentences = {s.id: s for s in (project.gold() if role == "pool" else target)}
ids = list(sentences)
if st.session_state.get("inspect_id") in sentences and st.session_state.get("pred_pick") != st.session_state["inspect_id"]:
    st.session_state["pred_pick"] = st.session_state["inspect_id"]
sid = st.selectbox("Sentence", ids, key="pred_pick", format_func=lambda i: f"{i} — {sentences[i].text[:90]}",
                   on_change=lambda: st.session_state.update(inspect_id=st.session_state["pred_pick"]))
gold = sentences[sid].spans_with(("gold",)) if (project.has_gold(role)) else None
pred = project.records.prediction(sid, role=role)
if st.button("Predict now" if pred is None else "Predict again", key="pred_run"):
    with st.spinner("Predicting…"):
        pred = predict.predict_one(project, sid, state.get_predictor(project), state.get_embedder(), role=role)
st.markdown(sentence_html(sentences[sid], project.schema, pred.spans if pred else ()), unsafe_allow_html=True)
if pred is None:
    st.info("No stored prediction for this sentence yet.")
    st.stop()

details = pred.details or {}
c = st.columns(4)
c[0].metric("Uncertainty", f"{pred.uncertainty:.3f}", help=pred.uncertainty_kind)
c[1].metric("Spans found", len(pred.spans))
c[2].metric("Demonstrations", len(pred.demonstrations))
c[3].metric("Gold spans", "—" if gold is None else len(gold))
if pred.error:
    st.error(f"This prediction failed: {pred.error}")
elif not pred.succeeded:
    st.warning(f"This answer is {pred.outcome}: it is not scored, and was not cached.")

st.subheader("Retrieved demonstrations (prompt order: most similar last)")
demo_sentences = {s.id: s for s in project.annotated()}
st.dataframe(tables.demonstrations_table(pred, demo_sentences), hide_index=True)
st.subheader("Parsed spans against gold")
st.dataframe(tables.span_diff_table(pred.spans, gold), hide_index=True)

with st.expander("The rendered prompt", expanded=False):
    if not details.get("messages"):
        st.caption("The offline kNN predictor uses no prompt: it votes over the demonstrations' word vectors.")
    for m in details.get("messages", []):
        st.markdown(f"**{m.get('role', '?')}**")
        st.code(m.get("content", ""), language=None, wrap_lines=True)
with st.expander("The raw answer", expanded=bool(details.get("raw"))):
    st.code(details.get("raw", "(no answer: the offline predictor does not produce text)"), language=None,
            wrap_lines=True)
st.subheader("Answer problems")
this, total = details.get("parse", {}), tables.parse_counts(project.records.predictions())
rows = [("unparseable answers", "unparseable"), ("invented labels", "invented_labels"),
        ("ungrounded spans", "ungrounded"), ("failed requests", "errors")]
c = st.columns(len(rows))
for col, (label, k) in zip(c, rows):
    col.metric(label, this.get(k, int(bool(pred.error)) if k == "errors" else 0),
               help=f"{total.get(k, 0)} over every stored prediction")
with st.expander("Everything the predictor recorded"):
    st.json({k: v for k, v in details.items() if k not in ("messages", "raw")})
