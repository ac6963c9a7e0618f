"""The dashboard's tables, as plain functions returning pandas DataFrames.

Scores per entity type, why each sentence was picked, predicted spans
against gold, the sentences picked on the map, a prediction's retrieved
demonstrations, and totals over stored predictions, so a notebook shows the
same tables as the dashboard. The charts are in :mod:`.figures`. Nothing
here imports Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from .figures import NOT_SELECTED
from ..scoring import Scores, evaluate
from ..data.sentence import Span, spans_to_tags


def per_type_table(scores: Scores) -> pd.DataFrame:
    """Precision, recall, F1 and support per entity type, then the micro
    average over all types (strict IOB2, as :func:`allabel_core.scoring.evaluate`)."""
    rows = [{"type": t, **{k: v[k] for k in ("precision", "recall", "f1", "support")}} for t, v in scores.per_type.items()]
    rows.append({"type": "all (micro)", "precision": scores.precision, "recall": scores.recall,
                 "f1": scores.f1, "support": scores.support})
    df = pd.DataFrame(rows, columns=["type", "precision", "recall", "f1", "support"])
    df["support"] = df["support"].astype(int)
    return df


def why_picked_table(picks: Iterable, texts: Mapping[str, str]) -> pd.DataFrame:
    """One row per pick: ``stage, rank, id, score, reason, sentence``.

    ``picks``: records with ``sentence_id`` (or ``id``), ``stage``, ``score``
    and ``reason`` attributes or keys, in pick order; ``rank`` counts within
    each stage from 1. A ``reason`` dict shows its ``why`` (else its items).
    """
    def get(p, *names):
        for n in names:
            v = p.get(n) if isinstance(p, Mapping) else getattr(p, n, None)
            if v is not None:
                return v
        return None

    rows, rank = [], {}
    for p in picks:
        stage = get(p, "stage") or ""
        rank[stage] = rank.get(stage, 0) + 1
        sid = str(get(p, "sentence_id", "id"))
        score = get(p, "score")
        reason = get(p, "reason") or ""
        if isinstance(reason, Mapping):
            reason = reason.get("why") or reason.get("note") or ", ".join(f"{k}: {v}" for k, v in reason.items())
        rows.append({
            "stage": stage, "rank": rank[stage], "id": sid,
            "score": float(score) if score is not None and not (isinstance(score, float) and math.isnan(score)) else None,
            "reason": str(reason), "sentence": texts.get(sid, ""),
        })
    return pd.DataFrame(rows, columns=["stage", "rank", "id", "score", "reason", "sentence"])


def span_diff_table(predicted: Iterable[Span], gold: Iterable[Span] | None) -> pd.DataFrame:
    """Predicted spans against gold, one row per span: ``verdict, text,
    label, gold_label, start, end``.

    Verdicts: ``correct`` (same start, end, label); ``wrong type`` (same
    boundaries, another label); ``wrong boundary`` (overlaps a gold span of
    the same label); ``spurious`` (predicted, matches nothing); ``missed``
    (gold, matched by nothing). Without gold every prediction is
    ``unchecked``.
    """
    cols = ["verdict", "text", "label", "gold_label", "start", "end"]
    predicted = sorted(predicted, key=lambda s: (s.start, s.end))
    if gold is None:
        return pd.DataFrame([["unchecked", s.text, s.label, None, s.start, s.end] for s in predicted], columns=cols)
    gold = sorted(gold, key=lambda s: (s.start, s.end))
    used: set[tuple] = set()
    rows = []
    for p in predicted:
        exact = [g for g in gold if g.key() == p.key()]
        same_bounds = [g for g in gold if (g.start, g.end) == (p.start, p.end)]
        overlap = [g for g in gold if g.label == p.label and g.start < p.end and p.start < g.end]
        if exact:
            verdict, match = "correct", exact[0]
        elif same_bounds:
            verdict, match = "wrong type", same_bounds[0]
        elif overlap:
            verdict, match = "wrong boundary", overlap[0]
        else:
            verdict, match = "spurious", None
        if match is not None:
            used.add(match.key())
        rows.append([verdict, p.text, p.label, match.label if match else None, p.start, p.end])
    rows += [["missed", g.text, None, g.label, g.start, g.end] for g in gold if g.key() not in used]
    rows.sort(key=lambda r: (r[4], r[5]))
    return pd.DataFrame(rows, columns=cols)


def selected_table(project, ids: Sequence[str], texts: Mapping[str, str]) -> pd.DataFrame:
    """The sentences picked on the map: ``id, stage, status, sentence``."""
    sel = project.selections()
    stage = dict(zip(sel["sentence_id"], sel["stage"]))
    states = project.states()
    queued = set(project.queue())
    return pd.DataFrame(
        [{"id": i, "stage": stage.get(i, NOT_SELECTED),
          "status": states.get(i) or ("queued" if i in queued else "not labeled"), "sentence": texts.get(i, "")}
         for i in ids],
        columns=["id", "stage", "status", "sentence"],
    )


def latest_scores(project) -> tuple[Scores, str] | None:
    """Strict scores of the newest stored predictions against gold: on the
    target set if it has gold, else on the pool sentences not confirmed.
    Returns ``(scores, what was scored)`` or None (no gold or no predictions)."""
    target = project.target()
    if target is not None and project.has_gold("target"):
        gold, role, what = list(target), "target", "target set"
    elif project.has_gold("pool"):
        done = {sid for sid, st in project.states().items() if st == "confirmed"}
        gold, role, what = [s for s in project.gold() if s.id not in done], "pool", "pool (not confirmed)"
    else:
        return None
    preds = project.predictions(role=role).sort_values("run").drop_duplicates("sentence_id", keep="last")
    spans = {sid: sp for sid, sp, err in zip(preds["sentence_id"], preds["spans"], preds["error"]) if not err}
    gold = [g for g in gold if g.id in spans]
    if not gold:
        return None
    pred_tags = [spans_to_tags(g.tokens, [Span(a, b, lab, t, "suggested") for a, b, lab, t in spans[g.id]])[0]
                 for g in gold]
    return evaluate([g.tags() for g in gold], pred_tags), f"{what}, {len(gold)} sentences"


def parse_counts(predictions: pd.DataFrame) -> dict[str, int]:
    """Totals over stored predictions' parse counts (LLM answers):
    ``answers, unparseable, invented_labels, ungrounded, ..., errors``."""
    totals: dict[str, int] = {}
    for details in predictions.get("details", []):
        for k, v in (details or {}).get("parse", {}).items():
            totals[k] = totals.get(k, 0) + int(v)
    totals["errors"] = int(predictions["error"].notna().sum()) if "error" in predictions else 0
    return totals


def demonstrations_table(prediction, sentences: Mapping[str, object]) -> pd.DataFrame:
    """A prediction's retrieved demonstrations in prompt order (most similar
    last): ``order, id, similarity, sentence, entities`` where entities reads
    ``text [LABEL]; ...`` from the demonstration's trusted spans."""
    rows = []
    for n, (sid, sim) in enumerate(zip(prediction.demonstrations, prediction.similarities), 1):
        s = sentences.get(sid)
        spans = s.spans_with() if s is not None else ()
        rows.append({"order": n, "id": sid, "similarity": float(sim), "sentence": getattr(s, "text", ""),
                     "entities": "; ".join(f"{sp.text} [{sp.label}]" for sp in spans)})
    return pd.DataFrame(rows, columns=["order", "id", "similarity", "sentence", "entities"])
