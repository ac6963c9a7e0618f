"""The span annotator, a Streamlit custom component (``st.components.v2``).

Its HTML, CSS and JavaScript are the files beside this module (no build
step, no third-party component); the props it draws from and the events it
sends are plain data, built and read by :mod:`allabel_core.views.annotator`.
The browser draws every action at once and sends it as one ``action``
event (a trigger value) naming token indices; the callback given to
:func:`annotator` handles it in the script thread before the fragment that
mounts the component reruns, so the next props already show the result.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

import streamlit as st

NAME = "allabel_annotator"
_ASSETS = files(__name__)


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


_MOUNT = st.components.v2.component(
    NAME, html=_asset("annotator.html"), css=_asset("annotator.css"), js=_asset("annotator.js"), isolate_styles=True,
)


def annotator(props: dict, *, key: str, on_action: Callable[[], None]) -> None:
    """Mount the annotator with ``props`` (see
    :func:`allabel_core.views.annotator.annotator_props`); ``on_action`` runs
    (no arguments) when the person acts; read the event with :func:`action`."""
    _MOUNT(key=key, data=props, on_action_change=on_action, width="stretch", height="content")


def action(key: str) -> dict | None:
    """The event the annotator mounted under ``key`` just sent, or None."""
    state = st.session_state.get(key)
    value = state.get("action") if state is not None else None
    return value if isinstance(value, dict) else None
