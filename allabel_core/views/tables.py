"""The dashboard's tables, as plain functions returning pandas DataFrames.

Scores per entity type, why each sentence was picked, predicted spans
against gold, the sentences picked on the map, a prediction's retrieved
demonstrations, and totals over stored predictions, so a notebook shows the
same tables as the dashboard. The charts are in :mod:`.figures`. Nothing
here imports Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from ..scoring import Scores, evaluate
from ..data.sentence import Span


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


def linked_sentences_table(ids: Sequence[str], similarities: Sequence[float], texts: Mapping[str, str]) -> pd.DataFrame:
    """The sentences the map links to a clicked one, best first:
    ``rank, id, similarity, sentence``."""
    return pd.DataFrame(
        [{"rank": n, "id": i, "similarity": float(s), "sentence": texts.get(i, "")}
         for n, (i, s) in enumerate(zip(ids, similarities), 1)],
        columns=["rank", "id", "similarity", "sentence"],
    )


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


def curve_table(results: pd.DataFrame, *, band: str = "minmax") -> pd.DataFrame:
    """F1 and demonstration entity coverage@k side by side per strategy and
    budget (means, with F1's spread over seeds as ``band``); coverage is
    blank for points recorded before it was measured."""
    from .figures import curve_summary

    f1 = curve_summary(results, band=band, metric="f1")
    cov = curve_summary(results, band=band, metric="coverage")
    out = f1.rename(columns={"mean": "F1", "low": "F1 low", "high": "F1 high"})
    cov = cov[["strategy", "budget_pct", "mean", "low", "high"]].rename(
        columns={"mean": "coverage@k", "low": "coverage low", "high": "coverage high"})
    out = out.merge(cov, on=["strategy", "budget_pct"], how="left")
    return out.rename(columns={"budget_pct": "budget %"})[
        ["strategy", "budget %", "F1", "F1 low", "F1 high", "coverage@k", "coverage low", "coverage high", "seeds"]]
