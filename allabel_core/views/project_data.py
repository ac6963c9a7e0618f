"""The few view builders that read a project (everything else in
:mod:`.figures` and :mod:`.tables` takes plain data): the map's colouring,
the table of sentences picked on the map, and the newest scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..project.scoring import Scored, score_against_gold, stored_spans
from .figures import (
    COLOR_MODES, CONFIRMED_GROUP, NO_ENTITY, NOT_PREDICTED, NOT_SELECTED, error_groups, predicted_groups, stage_groups,
    status_groups,
)

def map_coloring(project, mode: str) -> dict:
    """What :func:`map_figure` needs to colour a project's pool by ``mode``
    (one of :data:`COLOR_MODES`): ``{"groups": [...]}`` or ``{"values": [...]}``,
    plus ``color_by``. Reads the project's selections, label states,
    suggestions, and newest stored pool predictions."""
    ids = project.pool_ids()
    if mode == "stage":
        sel = project.selections.table()
        return {"groups": stage_groups(ids, dict(zip(sel["sentence_id"], sel["stage"]))), "color_by": "stage"}
    if mode == "label status":
        status = {sid: "queued" for sid in project.selections.queue()}
        status.update(dict.fromkeys(project.labels.with_suggestions(), "suggested"))
        status.update(project.labels.states())
        return {"groups": status_groups(ids, status), "color_by": "label status"}
    if mode == "predicted entities":
        rest = project.records.rest_predictions()
        confirmed = [sid for sid, st in project.labels.states().items() if st == "confirmed"]
        predicted = {sid: [sp.label for sp in r.prediction.spans] for sid, r in rest.items() if not r.prediction.error}
        types = project.schema.names
        colors = {t.name: t.color for t in project.schema.types}
        colors.update({CONFIRMED_GROUP: "#000000", NO_ENTITY: "#8c8c8c"})
        return {"groups": predicted_groups(ids, confirmed, predicted, types), "colors": colors,
                "order": (CONFIRMED_GROUP, *types, NO_ENTITY, NOT_PREDICTED),
                "color_by": "predicted entities (most frequent type per sentence)"}
    preds = project.records.predictions(role="pool").sort_values("run").drop_duplicates("sentence_id", keep="last")
    if mode == "predicted uncertainty":
        unc = dict(zip(preds["sentence_id"], preds["uncertainty"]))
        kinds = sorted({k for k in preds["uncertainty_kind"] if k})
        return {"values": [float(unc[i]) if unc.get(i) is not None else np.nan for i in ids],
                "color_by": f"uncertainty ({', '.join(kinds) or 'no predictions yet'})"}
    if mode == "errors against gold":
        gold = {s.id: s.spans for s in project.gold()} if project.has_gold() else {}
        return {"groups": error_groups(ids, stored_spans(project, "pool"), gold), "color_by": "errors against gold"}
    raise ConfigError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOR_MODES)}")

def selected_table(project, ids: Sequence[str], texts: Mapping[str, str]) -> pd.DataFrame:
    """The sentences picked on the map: ``id, stage, status, sentence``."""
    sel = project.selections.table()
    stage = dict(zip(sel["sentence_id"], sel["stage"]))
    states = project.labels.states()
    queued = set(project.selections.queue())
    return pd.DataFrame(
        [{"id": i, "stage": stage.get(i, NOT_SELECTED),
          "status": states.get(i) or ("queued" if i in queued else "not labeled"), "sentence": texts.get(i, "")}
         for i in ids],
        columns=["id", "stage", "status", "sentence"],
    )


def latest_scores(project) -> Scored | None:
    """Strict scores of the newest stored predictions against gold, by the
    one rule of :mod:`allabel_core.project.scoring`; None without gold or
    predictions. ``.scores`` and ``.label`` (what was scored) for the page."""
    return score_against_gold(project)
