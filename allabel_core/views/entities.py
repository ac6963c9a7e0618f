"""Every entity out, as tables: the entity table and its summary, built
from sentences whose spans carry their source and score.

Each exported span says where it came from: ``source`` is ``"human"`` for a
person's confirmed label and the predictor's name for a predicted one;
``score`` is the predictor's confidence in [0, 1] (None for a person's
label: nobody scores those). Confidence from a prediction
(:func:`span_scores`):

* offline kNN (``knn-margin``): per span, one minus the mean of its words'
  uncertainty (``1 - (p1 - p2)`` per word), so each span has its own score;
* LLM with log-probabilities (``perplexity``): ``1 / perplexity`` of the
  answer, i.e. the geometric mean token probability, the same for every span
  of the sentence;
* LLM sampled (``disagreement``): the share of samples agreeing with the
  majority answer, ``1 - disagreement``;
* no measure: None.

The entity table (:func:`entity_table`) has one row per span: sentence id,
sentence, start, end (code points, end exclusive), text, label, source,
score. The summary (:func:`entity_summary`) has one row per distinct entity
string and type: how many mentions, in how many sentences, from which
sources, and example sentence ids.

A project's export of these (what to include, the file formats) is
:mod:`allabel_core.project.export`. Nothing here reads a project.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import pandas as pd

from ..data.sentence import Sentence, Span

HUMAN = "human"
ENTITY_COLUMNS = ("sentence_id", "sentence", "start", "end", "text", "label", "source", "score")
SUMMARY_COLUMNS = ("label", "text", "mentions", "sentences", "sources", "mean_score", "example_ids")


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def sentence_confidence(uncertainty, kind: str | None) -> float | None:
    """A sentence-level confidence in [0, 1] from a prediction's uncertainty
    (see the module docstring), or None when there is no measure."""
    u = _finite(uncertainty)
    if u is None or not kind or kind == "none":
        return None
    if kind == "perplexity":
        return 1.0 / u if u >= 1.0 else 1.0
    return min(1.0, max(0.0, 1.0 - u))


def span_scores(sentence: Sentence, spans: Sequence[Span], uncertainty, kind: str | None,
                details: Mapping | None = None) -> list[float | None]:
    """One confidence per span of a prediction over ``sentence``.

    With per-word uncertainty (the kNN predictor's ``word_uncertainty``, one
    value per token of ``sentence``), a span scores one minus the mean over
    the tokens it covers; otherwise every span gets the sentence's
    :func:`sentence_confidence`."""
    words = (details or {}).get("word_uncertainty")
    overall = sentence_confidence(uncertainty, kind)
    if not words or len(words) != len(sentence.tokens):
        return [overall for _ in spans]
    out: list[float | None] = []
    for sp in spans:
        covered = [float(w) for t, w in zip(sentence.tokens, words) if t.start < sp.end and t.end > sp.start]
        out.append(round(min(1.0, max(0.0, 1.0 - sum(covered) / len(covered))), 4) if covered else overall)
    return out


def with_source(sentence: Sentence, spans: Iterable[Span], source: str, scores: Sequence[float | None] | None = None,
                *, status: str) -> Sentence:
    """``sentence`` holding exactly ``spans`` with this status, source and scores."""
    spans = list(spans)
    scores = list(scores) if scores is not None else [None] * len(spans)
    marked = [replace(sp, status=status, source=source, score=sc) for sp, sc in zip(spans, scores)]
    return sentence.with_spans(marked)


# -- tables --------------------------------------------------------------------
def entity_table(sentences: Iterable[Sentence], statuses: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per span (columns :data:`ENTITY_COLUMNS`), sentences in the
    order given, spans by position. ``source`` falls back to ``"human"`` for
    confirmed spans and ``""`` otherwise; ``statuses`` filters (None: all)."""
    wanted = None if statuses is None else set(statuses)
    rows = []
    for s in sentences:
        for sp in sorted(s.spans, key=lambda x: (x.start, x.end, x.label)):
            if wanted is not None and sp.status not in wanted:
                continue
            source = sp.source or (HUMAN if sp.status == "confirmed" else "")
            rows.append((s.id, s.text, sp.start, sp.end, sp.text, sp.label, source, _finite(sp.score)))
    df = pd.DataFrame.from_records(rows, columns=list(ENTITY_COLUMNS))
    df["start"] = df["start"].astype("int64")
    df["end"] = df["end"].astype("int64")
    df["score"] = df["score"].astype("float64")
    return df


def entity_summary(table: pd.DataFrame, *, examples: int = 3) -> pd.DataFrame:
    """Distinct entity strings per type (columns :data:`SUMMARY_COLUMNS`):
    ``mentions`` (rows of the entity table), ``sentences`` (distinct ids),
    ``sources`` (e.g. ``"human 3; offline kNN predictor 5"``), ``mean_score``
    over the scored mentions (NaN if none), and up to ``examples`` example
    sentence ids, first seen first. Sorted by type, then most mentions."""
    if not len(table):
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    rows = []
    for (label, text), g in table.groupby(["label", "text"], sort=False):
        ids = list(dict.fromkeys(g["sentence_id"]))
        counts = g["source"].value_counts(sort=False)
        rows.append({
            "label": label, "text": text, "mentions": len(g), "sentences": len(ids),
            "sources": "; ".join(f"{src} {n}" for src, n in sorted(counts.items())),
            "mean_score": float(g["score"].mean()) if g["score"].notna().any() else float("nan"),
            "example_ids": ", ".join(ids[:examples]),
        })
    df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return df.sort_values(["label", "mentions", "text"], ascending=[True, False, True], kind="stable").reset_index(drop=True)


def table_csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV (with a header; score empty where there is none)."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def filter_table(table: pd.DataFrame, *, labels: Iterable[str] = (), sources: Iterable[str] = (),
                 text: str = "", min_score: float | None = None) -> pd.DataFrame:
    """Rows of an entity (or summary) table whose label and source are among
    the chosen (none chosen: all), whose text contains ``text`` (case
    insensitive), and whose score is at least ``min_score`` (rows without a
    score, a person's labels, are kept)."""
    keep = pd.Series(True, index=table.index)
    labels, sources = list(labels), list(sources)
    if labels:
        keep &= table["label"].isin(labels)
    if sources and "source" in table:
        keep &= table["source"].isin(sources)
    if text:
        keep &= table["text"].str.contains(text, case=False, regex=False)
    if min_score is not None and "score" in table:
        keep &= table["score"].isna() | (table["score"] >= min_score)
    return table[keep]
