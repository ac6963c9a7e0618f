"""The entity-type editor, one widget group shared by Settings, Home (right
after creating a project with no types) and the Label page (when there are
no types yet).

Every change is saved the moment it is made (``project.types``) and can be
undone; deleting a type that has spans asks first and says how many. Widget
keys are stable (``schema_…``) so a browser test can find them.
"""

from __future__ import annotations

import json

import streamlit as st

from ..errors import AllabelError
from ..data.schema import Schema, schema_from_bytes
from ..project.types import describe_usage

TYPE_ACTIONS = {"add_type": "add", "rename_type": "rename", "recolour_type": "recolour", "describe_type": "definition",
                "move_type": "reorder", "delete_type": "delete", "import_types": "import", "set_schema": "schema"}
MESSAGE = "schema_message"
PENDING = "schema_pending_delete"
SYNCED = "schema_synced"


def _bind(key: str, value) -> None:
    """Show the saved ``value`` in widget ``key`` whenever the saved value
    changed since it was last shown (an undo, another tab), and otherwise
    keep what the widget holds."""
    synced = st.session_state.setdefault(SYNCED, {})
    if key not in st.session_state or synced.get(key) != value:
        st.session_state[key] = value
        synced[key] = value


def _say(kind: str, text: str) -> None:
    st.session_state[MESSAGE] = (kind, text)


def _do(fn, *args, done: str | None = None, **kw) -> bool:
    try:
        fn(*args, **kw)
    except AllabelError as exc:
        _say("error", str(exc))
        return False
    if done:
        _say("success", done)
    return True


def _rename(project, old: str, key: str) -> None:
    new = st.session_state[key].strip()
    if new == old:
        return
    if not _do(project.types.rename, old, new, done=f"Renamed {old} to {new}; its spans follow."):
        st.session_state[key] = old  # the refused name does not stay in the box


def _recolour(project, name: str, key: str) -> None:
    _do(project.types.recolour, name, st.session_state[key])


def _describe(project, name: str, key: str) -> None:
    _do(project.types.describe, name, st.session_state[key], done=f"Saved the definition of {name}.")


def _delete(project, name: str) -> None:
    used = project.types.usage(name)
    if any(used.values()):
        st.session_state[PENDING] = name  # ask first
    else:
        _do(project.types.remove, name, done=f"Deleted {name}.")


def _delete_confirmed(project, name: str) -> None:
    st.session_state[PENDING] = None
    _do(project.types.remove, name, delete_spans=True, done=f"Deleted {name} and its spans (Undo brings them back).")


def _add(project) -> None:
    name = st.session_state["schema_add_name"].strip()
    if _do(project.types.add, name, st.session_state["schema_add_definition"], st.session_state["schema_add_color"],
           done=f"Added {name}."):
        st.session_state["schema_add_name"] = ""
        st.session_state["schema_add_definition"] = ""


def _undo(project) -> None:
    undone = project.labels.undo()
    if undone is not None:
        _say("success", f"Undid {undone.action.replace('_', ' ')}.")


def read_types_file(data: bytes, filename: str) -> Schema:
    """Types from an upload: a ``schema.json`` (``{"labels": [...]}``), else
    the labels present in an annotated file, in order of first appearance."""
    from ..formats import read_corpus_bytes

    if filename.lower().endswith(".json"):
        try:
            obj = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            obj = None
        if isinstance(obj, dict) and "labels" in obj:
            return schema_from_bytes(data, filename)
    corpus = read_corpus_bytes(data, filename)
    labels = [sp.label for s in corpus for sp in s.spans]
    if not labels:
        raise AllabelError(f"{filename}: no labelled spans in the file, so no types to take from it")
    return Schema.from_labels(labels)


def _import(project) -> None:
    upload = st.session_state.get("schema_import_file")
    if upload is None:
        _say("warning", "Choose a schema.json or an annotated file first.")
        return
    try:
        other = read_types_file(upload.getvalue(), upload.name)
    except AllabelError as exc:
        _say("error", str(exc))
        return
    before = set(project.schema.names)
    if _do(project.types.merge, other):
        added = [n for n in other.names if n not in before]
        _say("success", f"Added {', '.join(added)} from {upload.name}." if added
             else f"{upload.name} has no type the project lacks.")


def _last_type_action(project) -> dict | None:
    last = project.labels.last_action()
    return last if last and last["action"] in TYPE_ACTIONS else None


def schema_editor(project) -> None:
    """Draw the editor for ``project``'s entity types."""
    schema = project.schema
    message = st.session_state.get(MESSAGE)
    if message:
        getattr(st, message[0])(message[1])
        st.session_state[MESSAGE] = None
    if not schema.types:
        st.info("This project has no entity types yet. Add the types you want to label: a short name "
                "(it becomes the BIO tag, e.g. MAT), a definition (what the LLM is told the type means) and a colour. "
                "Or import them from a schema.json or from an annotated file.")

    pending = st.session_state.get(PENDING)
    if pending and pending in schema:
        used = project.types.usage(pending)
        st.warning(f"**{pending}** has {describe_usage(used)}. Delete the type and these spans? Undo brings them back.")
        c = st.columns([2, 1, 5])
        c[0].button(f"Delete {pending} and its spans", key="schema_delete_confirm", type="primary",
                    on_click=_delete_confirmed, args=(project, pending))
        c[1].button("Keep it", key="schema_delete_cancel", on_click=lambda: st.session_state.update({PENDING: None}))

    if schema.types:
        st.caption("Key (on the Label page) · name · colour · definition (what an LLM is told) · order")
    for i, t in enumerate(schema.types):
        c = st.columns([0.35, 2, 0.6, 6, 0.6, 0.6, 1.1], vertical_alignment="center")
        key = schema.key(t.name)
        c[0].markdown(f"**{key}**" if key else "–")
        for prefix, value in (("name", t.name), ("color", t.color), ("def", t.description)):
            _bind(f"schema_{prefix}_{t.name}", value)
        c[1].text_input(f"Name of {t.name}", key=f"schema_name_{t.name}", label_visibility="collapsed",
                        on_change=_rename, args=(project, t.name, f"schema_name_{t.name}"),
                        help="BIO-safe: letters, digits, _ - . (renaming relabels its spans)")
        c[2].color_picker(f"Colour of {t.name}", key=f"schema_color_{t.name}", label_visibility="collapsed",
                          on_change=_recolour, args=(project, t.name, f"schema_color_{t.name}"))
        c[3].text_area(f"Definition of {t.name}", key=f"schema_def_{t.name}", height=68,
                       label_visibility="collapsed", placeholder="What this type means (the LLM is told this)",
                       on_change=_describe, args=(project, t.name, f"schema_def_{t.name}"))
        c[4].button("", icon=":material/arrow_upward:", key=f"schema_up_{t.name}", disabled=i == 0, help=f"Move {t.name} up",
                    on_click=_do, args=(project.types.move, t.name, i - 1))
        c[5].button("", icon=":material/arrow_downward:", key=f"schema_down_{t.name}", disabled=i == len(schema) - 1, help=f"Move {t.name} down",
                    on_click=_do, args=(project.types.move, t.name, i + 1))
        c[6].button("Delete", key=f"schema_delete_{t.name}", on_click=_delete, args=(project, t.name),
                    help=f"Delete {t.name} (asks first if it has spans)")

    st.session_state.setdefault("schema_add_name", "")
    st.session_state.setdefault("schema_add_definition", "")
    _bind("schema_add_color", schema.next_color())
    with st.form("schema_add_form", border=True):
        c = st.columns([2, 0.8, 6, 1.2], vertical_alignment="bottom")
        c[0].text_input("New type", key="schema_add_name", placeholder="e.g. MAT")
        c[1].color_picker("Colour", key="schema_add_color")
        c[2].text_input("Definition", key="schema_add_definition", placeholder="What it means, for the LLM and for you")
        c[3].form_submit_button("Add type", key="schema_add", type="primary", on_click=_add, args=(project,))

    c = st.columns([3, 2, 2])
    with c[0]:
        st.file_uploader("Import types from a schema.json or an annotated file", key="schema_import_file")
        st.button("Import types", key="schema_import", on_click=_import, args=(project,))
    last = _last_type_action(project)
    c[1].button("Undo last type change" if last else "Undo", key="schema_undo", disabled=last is None,
                on_click=_undo, args=(project,),
                help=(f"Undo: {TYPE_ACTIONS[last['action']]} {last['summary'].get('type') or ''}".strip() if last
                      else "The last change was not to the types (undo labels on the Label page)."))
    c[2].download_button("Download schema.json", schema.to_json(), file_name="schema.json", mime="application/json",
                         key="schema_download", disabled=not schema.types)
