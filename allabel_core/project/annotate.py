"""A person's action in the annotator, applied to a project.

The browser sends one event per action (see
:mod:`allabel_core.views.annotator` for what it holds and how its token
indices become offsets); :func:`apply_event` checks that the sentence is
still at the revision the person saw, does the action as that person, and
says what happened, for the annotator to show in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import AllabelError
from ..views.annotator import SpanAction, resolve_event
from .labels import Actor, SpanError, StaleError


@dataclass(frozen=True)
class Outcome:
    """What one event did: the notice to show in place (``{kind, text,
    event}`` or None), the sentence to open next (None: stay), and the
    sentence it confirmed (for the check against gold)."""

    notice: dict | None = None
    goto: str | None = None
    confirmed: str | None = None


def apply_event(project, event: Mapping, actor: Actor, *, lead_time: float | None = None,
                suggest: Callable[[str], tuple[str, str]] | None = None,
                order: Sequence[str] | None = None) -> Outcome:
    """Do what one annotator event asks, on ``project``, as ``actor``.

    The event names the sentence and the revision its props showed
    (``sid``, ``rev``); if the sentence has changed since, nothing is done
    and the notice says "this sentence changed in another tab — reloaded"
    (the caller then sends fresh props). ``lead_time``: seconds spent on
    the sentence, recorded with confirm and skip. ``suggest(sid)`` asks the
    predictor and returns the notice, ``(kind, text)`` (raises
    ``AllabelError`` on failure). ``order``: the ids N, S and P walk instead
    of the queue (e.g. least certain first). Refusals come back as error
    notices; nothing raises for a person's mistake.
    """
    eid = event.get("id") if isinstance(event, Mapping) else None

    def say(kind: str, text: str, **kw) -> Outcome:
        return Outcome({"kind": kind, "text": text, "event": eid}, **kw)

    try:
        if not isinstance(event, Mapping):
            raise SpanError(f"an annotator event is an object, got {type(event).__name__}")
        sid, rev = event.get("sid"), event.get("rev")
        if not isinstance(sid, str) or not project.has_sentence(sid):
            raise SpanError(f"the event names no sentence of this project ({sid!r})")
        if not isinstance(rev, int) or isinstance(rev, bool):
            raise SpanError(f"the event's revision must be a number, got {rev!r}")
        current = project.labels.revision(sid)
        if current != rev:
            raise StaleError(sid, rev, current)
        done = resolve_event(event, project.sentence(sid), project.schema.names)
        who = {"actor": actor, "expect_rev": rev}
        if isinstance(done, SpanAction):
            if done.kind == "add":
                project.labels.add_span(sid, done.start, done.end, done.label, text=done.text, **who)
            elif done.kind == "relabel":
                project.labels.set_label(sid, done.start, done.end, done.label, **who)
            elif done.kind == "accept":
                project.labels.accept_suggestions(sid, [(done.start, done.end)], **who)
            else:
                project.labels.remove_span(sid, done.start, done.end, **who)
            return Outcome()
        kind = done.kind
        if kind == "accept_all":
            n = project.labels.accept_suggestions(sid, **who)
            return say("success", f"Accepted {n} suggested span{'s' if n != 1 else ''}.") if n else \
                say("info", "There are no suggested spans to accept.")
        if kind == "confirm":
            n = project.labels.confirm(sid, lead_time=lead_time, **who)
            return say("success", f"Confirmed {sid} with {n} span{'s' if n != 1 else ''}.",
                       goto=project.selections.next_id(sid, order=order) or sid, confirmed=sid)
        if kind == "skip":
            changed = project.labels.skip(sid, lead_time=lead_time, **who)
            text = f"Skipped {sid}: it moves to the end of the queue." if changed else \
                f"{sid} is already {project.labels.state(sid)}; opened the next sentence."
            return say("info", text, goto=project.selections.next_id(sid, order=order) or sid)
        if kind == "previous":
            before = project.selections.previous_id(sid, order=order)
            return Outcome(goto=before) if before else say("info", "This is the first sentence of the queue.")
        if kind == "undo":
            undone = project.labels.undo(actor=actor)
            if undone is None:
                return say("info", "Nothing of yours to undo.")
            return say("success", f"Undid your {undone.action.replace('_', ' ')}"
                       f"{f' on {undone.sentence_id}' if undone.sentence_id else ''}.",
                       goto=undone.sentence_id if undone.sentence_id and undone.sentence_id != sid else None)
        if suggest is None:
            raise SpanError("no predictor is available here to suggest spans")
        return say(*suggest(sid))
    except AllabelError as exc:  # a refusal (StaleError included) is said in place
        return say("error", str(exc))
