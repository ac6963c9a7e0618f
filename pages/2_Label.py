"""Label: the queue in stage order, one sentence at a time, in an annotator
that runs in the browser.

Click or drag over words (shift-click extends), then a type's key or chip;
Backspace removes a span; N confirms and opens the next, S skips, P goes
back, U undoes your own last action, G asks the predictor for suggestions,
A accepts them, Esc clears the selection. A selection never reaches the
server; each action does, as one event, saved before the panel redraws.
After "predict the rest" (Entities page) the order can be "least certain
first", and a sentence's stored prediction is shown with one button to accept it.
"""

from __future__ import annotations

import time

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.dashboard.annotator import action, annotator
from allabel_core.dashboard.schema_editor import schema_editor
from allabel_core.errors import AllabelError
from allabel_core.predictors.registry import describe_predictor
from allabel_core.project.annotate import apply_event
from allabel_core.project.predict import suggest_for
from allabel_core.project.rest import least_certain_first
from allabel_core.views.entities import sentence_confidence
from allabel_core.views.markup import sentence_html
from allabel_core.views.annotator import annotator_props, annotator_scores, gold_check

project = state.require_project()
st.title("Label")
if not project.schema.types:  # nothing to label with yet: define the types here, as many as wanted
    st.session_state["defining_types"] = True
if st.session_state["defining_types"]:
    schema_editor(project)
    if st.button("Start labeling", key="label_types_done", type="primary", disabled=not project.schema.types,
                 help="Add at least one type first" if not project.schema.types else None):
        st.session_state["defining_types"] = False
        st.rerun()
    st.stop()
who = state.require_annotator()
KEY = "label_annotator"
ORDERS = {"stage": "Stage order (the queue)", "uncertainty": "Least certain first (predicted)"}


def walk() -> list[str] | None:
    """The ids N, S and P walk in the chosen order (None: the queue in stage order)."""
    return least_certain_first(project) if st.session_state.get("label_order") == "uncertainty" else None


def go(sentence_id: str | None) -> None:
    st.session_state["current_id"] = sentence_id
    project.selections.set_current(sentence_id)


def suggest(sid: str) -> tuple[str, str]:
    predictor = state.get_predictor(project)
    pred = suggest_for(project, sid, predictor, state.get_embedder())
    name = describe_predictor(project.settings)
    if pred.error:
        raise AllabelError(f"{name} failed: {pred.error}")
    if not pred.succeeded:
        return "warning", (f"{name} gave an answer that is {pred.outcome}; no suggestion was made, "
                           "ask again (G) or label it yourself.")
    return "success", (f"{len(pred.spans)} suggestion(s) from {name}; "
                       f"{len(project.annotated())} confirmed sentence(s) as demonstrations.")


def on_action() -> None:
    event = action(KEY)
    if event is None:
        return
    opened = st.session_state["label_opened"]
    lead = time.time() - opened[1] if opened and opened[0] == event.get("sid") else None
    out = apply_event(project, event, state.actor(), lead_time=lead, suggest=suggest, order=walk())
    st.session_state["label_ack"] = event.get("id") if isinstance(event.get("id"), int) else 0
    st.session_state["label_notice"] = out.notice
    if out.confirmed:
        st.session_state["label_checked"] = out.confirmed
    if out.goto:
        go(out.goto)


def gold_panel(sid: str | None) -> dict | None:
    """The check against gold of the sentence just confirmed, for the annotator to draw."""
    if not sid or not st.session_state.get("label_check_gold"):
        return None
    mine = next((r for r in project.labels.history(None, action="confirm", annotator=who) if r["sentence_id"] == sid
                 and not r["undone"]), None)
    if mine is None:
        return None
    check = gold_check((tuple(a) for a in mine["summary"].get("answer", [])),
                       ((g.start, g.end, g.label) for g in project.gold_spans(sid)))
    data = check.as_data(project.sentence(sid).text)
    score = scores().get(who)
    data["title"] = f"Your answer for {sid}, against gold (strict: same words, same type):"
    if score:
        p, r = score["precision"], score["recall"]
        data["summary"] = (f"{who}, over {score['sentences']} checked sentence(s): precision "
                           f"{'—' if p is None else f'{p:.2f}'}, recall {'—' if r is None else f'{r:.2f}'}.")
    return data


def scores() -> dict:
    return annotator_scores(project.labels.history(None, action="confirm"),
                            lambda sid: [(g.start, g.end, g.label) for g in project.gold_spans(sid)])


def accept_prediction(sid: str, spans) -> None:
    try:
        n = project.labels.accept_prediction(sid, spans, actor=state.actor())
    except AllabelError as exc:
        st.session_state["label_notice"] = ("error", str(exc))
        return
    st.session_state["label_notice"] = ("success", f"Prediction accepted: {n} span(s) confirmed.")
    go(project.selections.next_id(sid, order=walk()) or sid)


st.radio("Order", list(ORDERS), format_func=ORDERS.get, key="label_order", horizontal=True,
         on_change=lambda: go(project.selections.next_id(order=walk())),
         help="Least certain first: the sentences predicted by “predict the rest” (Entities page), "
              "the most uncertain first; review those next.")
if st.session_state.get("label_order") == "uncertainty" and not walk():
    st.info("Nothing predicted yet: run “predict the rest” on the Entities page first.")


@st.fragment
def panel() -> None:
    prog = project.progress()
    st.progress(min(1.0, prog["confirmed"] / max(1, prog["budget"])),
                text=f"{prog['confirmed']} of {prog['budget']} confirmed · {prog['pending']} in the queue")
    order = walk()
    sid = st.session_state["current_id"] or project.selections.current() or project.selections.next_id(order=order)
    if sid is not None and not project.has_sentence(sid):
        sid = project.selections.next_id(order=order)
    st.session_state["current_id"] = sid
    if sid is None:
        st.info("The queue is empty: run the selection stages on the Map page, or queue sentences there.")
        return
    if not project.schema.types:
        st.info("This project has no entity types yet: add them in Settings first.")
        return
    if (st.session_state["label_opened"] or (None,))[0] != sid:
        st.session_state["label_opened"] = (sid, time.time())

    picked, status = project.selections.get(sid), project.labels.state(sid)
    caption = f"{who} · sentence {sid} · " + (f"picked by {picked['stage']}" if picked else "not in the queue")
    props = annotator_props(
        project.sentence(sid), project.schema, rev=project.labels.revision(sid), state=status,
        ack=st.session_state["label_ack"], notice=st.session_state["label_notice"], caption=caption,
        gold=gold_panel(st.session_state["label_checked"]),
    )
    # Where N / S and P lead, sent ahead so the browser can draw it at once.
    for way, other in (("next", project.selections.next_id(sid, order=order)),
                       ("previous", project.selections.previous_id(sid, order=order))):
        if other and other != sid:
            props[way] = annotator_props(project.sentence(other), project.schema, rev=project.labels.revision(other),
                                         state=project.labels.state(other), caption=f"{who} · sentence {other}")
    annotator(props, key=KEY, on_action=on_action)
    stored = project.records.rest_prediction(sid) if status != "confirmed" else None
    if stored is not None and not stored.prediction.error:
        p = stored.prediction
        conf = sentence_confidence(p.uncertainty, p.uncertainty_kind)
        st.caption(f"Predicted by {stored.source}" + ("" if conf is None else f" · certainty {conf:.2f}")
                   + f" · {len(p.spans)} span(s):")
        st.markdown(sentence_html(project.sentence(sid), project.schema, p.spans), unsafe_allow_html=True)
        st.button("Accept prediction & next", key="label_accept_prediction", on_click=accept_prediction,
                  args=(sid, p.spans), help="The predicted spans become your confirmed label for this sentence")

    if project.has_gold():
        st.toggle("Check against gold after confirming", key="label_check_gold",
                  help="After each confirm, show the spans you missed, added or mis-typed against the "
                       "project's gold labels, and your running precision and recall")
        if st.session_state.get("label_check_gold"):
            with st.expander("Scores against gold, per annotator"):
                table = [{"annotator": name, "sentences": s["sentences"], "precision": s["precision"],
                          "recall": s["recall"]} for name, s in scores().items()]
                st.dataframe(table, hide_index=True, width="stretch") if table else st.caption("No sentence checked yet.")

    accepted = project.labels.spans(sid, ("confirmed",))
    if accepted:
        with st.expander("Apply a span's type to every identical mention"):
            i = st.selectbox("Span", range(len(accepted)), key="label_identical_pick",
                             format_func=lambda k: f"{accepted[k].text} ({accepted[k].label})")
            if st.button("Suggest it for every identical mention", key="label_identical",
                         help="Adds suggested spans in sentences not confirmed yet; nothing is overwritten"):
                sp = accepted[i]
                try:
                    n = project.labels.apply_to_identical(sp.text, sp.label, actor=state.actor())
                except AllabelError as exc:
                    st.error(str(exc))
                else:
                    st.success(f"Suggested {sp.label} for {n} more mention(s) of “{sp.text}” in unconfirmed sentences.")


panel()
