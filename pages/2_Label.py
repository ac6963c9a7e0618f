"""Label: the queue in stage order, one sentence at a time, saved on every click.

Select words (the pills), then a type (or its number key 1–9); N confirms
and moves on to the next, S skips, P goes back, U undoes, G asks the predictor
for suggestions, A accepts them. The panel is a fragment, so a click reruns only the panel.
"""

from __future__ import annotations

import streamlit as st

from allabel_core.dashboard import state
from allabel_core.dashboard.schema_editor import schema_editor
from allabel_core.errors import AllabelError
from allabel_core.predictors.registry import describe_predictor
from allabel_core.project.predict import suggest_for
from allabel_core.views.markup import chip_html, sentence_html, span_from_tokens, span_html

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


def go(sentence_id: str | None) -> None:
    st.session_state["current_id"] = sentence_id
    project.selections.set_current(sentence_id)


def say(kind: str, text: str) -> None:
    st.session_state["label_message"] = (kind, text)


def act(fn, *args, done: str | None = None):
    """Run one labeling action; a refused action becomes a message, not a crash."""
    try:
        result = fn(*args)
    except AllabelError as exc:
        say("error", str(exc))
        return None
    if done:
        say("success", done)
    return result


def add(sid: str, label: str) -> None:
    key = f"label_words_{sid}"
    span = span_from_tokens(project.sentence(sid), st.session_state.get(key) or [])
    if span is None:
        say("warning", "Select one or more words first, then the type.")
    elif act(project.labels.add_span, sid, span[0], span[1], label) is not None:
        st.session_state[key] = []


def confirm_next(sid: str) -> None:
    if act(project.labels.confirm, sid) is not None:
        go(project.selections.next_id(sid))


def skip(sid: str) -> None:
    act(project.labels.skip, sid)
    go(project.selections.next_id(sid))


def undo() -> None:
    undone = act(project.labels.undo)
    if undone is None:
        say("warning", "Nothing to undo.")
        return
    if undone.sentence_id:
        go(undone.sentence_id)
    say("success", f"Undid {undone.action.replace('_', ' ')}.")


def apply_identical(text: str, label: str) -> None:
    n = act(project.labels.apply_to_identical, text, label)
    if n is not None:
        say("success", f"Suggested {label} for {n} more mention(s) of “{text}” in unconfirmed sentences.")


def suggest(sid: str) -> None:
    settings = project.settings
    try:
        predictor = state.get_predictor(project)
        pred = suggest_for(project, sid, predictor, state.get_embedder())
    except AllabelError as exc:
        say("error", str(exc))
        return
    if pred.error:
        say("error", f"{describe_predictor(settings)} failed: {pred.error}")
    elif not pred.succeeded:
        say("warning", f"{describe_predictor(settings)} gave an answer that is {pred.outcome}; "
                       "no suggestion was made, ask again (G) or label it yourself.")
    else:
        say("success", f"{len(pred.spans)} suggestion(s) from {describe_predictor(settings)}; "
                       f"{len(project.annotated())} confirmed sentence(s) as demonstrations.")


@st.fragment
def panel() -> None:
    prog = project.progress()
    st.progress(min(1.0, prog["confirmed"] / max(1, prog["budget"])),
                text=f"{prog['confirmed']} of {prog['budget']} confirmed · {prog['pending']} in the queue")
    message = st.session_state["label_message"]
    if message:
        getattr(st, message[0])(message[1])
        st.session_state["label_message"] = None
    sid = st.session_state["current_id"] or project.selections.current() or project.selections.next_id()
    if sid is not None and sid not in project.pool_ids():
        sid = project.selections.next_id()
    st.session_state["current_id"] = sid
    if sid is None:
        st.info("The queue is empty: run the selection stages on the Map page, or queue sentences there.")
        st.button("Undo", key="label_undo", on_click=undo, shortcut="U")
        return

    sentence, state, picked = project.sentence(sid), project.labels.state(sid), project.selections.get(sid)
    why = f"picked by {picked['stage']}" if picked else "not in the queue"
    st.caption(f"Sentence `{sid}` · {why} · {state or 'not confirmed yet'}")
    st.markdown(sentence_html(sentence, project.schema), unsafe_allow_html=True)
    st.pills("Words (select, then a type)", list(range(len(sentence.tokens))), selection_mode="multi",
             format_func=lambda i: sentence.tokens[i].text, key=f"label_words_{sid}")
    types = project.schema.types
    for col, (i, t) in zip(st.columns(len(types)), enumerate(types)):
        col.button(t.name, key=f"label_type_{t.name}", on_click=add, args=(sid, t.name), help=t.description or None,
                   shortcut=str(i + 1) if i < 9 else None, width="stretch")
    st.markdown(" ".join(chip_html(t.name, t.color, i + 1 if i < 9 else None) for i, t in enumerate(types)),
                unsafe_allow_html=True)

    for sp in sentence.spans:
        c = st.columns([5, 1, 1, 2])
        c[0].markdown(span_html(sp, project.schema), unsafe_allow_html=True)
        tag = f"{sid}_{sp.start}_{sp.end}"
        if sp.status == "suggested":
            c[1].button("Accept", key=f"label_accept_{tag}", on_click=act,
                        args=(project.labels.accept_suggestions, sid, [(sp.start, sp.end)]))
            c[2].button("Reject", key=f"label_reject_{tag}", on_click=act,
                        args=(project.labels.reject_suggestion, sid, sp.start, sp.end))
        else:
            c[1].button("Remove", key=f"label_remove_{tag}", on_click=act, args=(project.labels.remove_span, sid, sp.start, sp.end))
        c[3].button("Apply to identical", key=f"label_identical_{tag}", on_click=apply_identical,
                    args=(sp.text, sp.label), width="stretch",
                    help="Suggest this type for every identical mention in sentences not confirmed yet")

    c = st.columns([2, 1, 1, 1, 1, 1])
    # A letter, not (Ctrl+)Enter: in the browser, Enter goes to the word pill focused by a mouse selection.
    c[0].button("Confirm & next", key="label_confirm", type="primary", on_click=confirm_next, args=(sid,),
                shortcut="N", width="stretch")
    c[1].button("Skip", key="label_skip", on_click=skip, args=(sid,), shortcut="S")
    c[2].button("Previous", key="label_previous", on_click=lambda: go(project.selections.previous_id(sid) or sid), shortcut="P")
    c[3].button("Undo", key="label_undo", on_click=undo, shortcut="U")
    c[4].button("Suggest", key="label_suggest", on_click=suggest, args=(sid,), shortcut="G",
                help=f"Ask the {describe_predictor(project.settings)}, with the confirmed sentences as demonstrations")
    c[5].button("Accept all", key="label_accept_all", on_click=act, args=(project.labels.accept_suggestions, sid), shortcut="A")


panel()
