"""One rule for what a project's predictions are scored against.

* The target set, when it has gold labels (the benchmark setting).
* Otherwise the pool's gold labels, on the sentences the person has not
  confirmed (a confirmed sentence is a demonstration: scoring it would
  score retrieval of itself).
* Otherwise nothing: no gold, no score (never an F1 of 0 against an empty
  gold layer).

Only sentences with a successful prediction are scored; a failed one is a
recorded failure, not an empty answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..data.corpus import Corpus
from ..data.sentence import Sentence, Span, spans_to_tags
from ..scoring import Scores, evaluate


@dataclass(frozen=True)
class GoldSet:
    """What to score against: ``role`` of the predictions (``"target"`` /
    ``"pool"``), a ``label`` for people, and the gold ``sentences``."""

    role: str
    label: str
    sentences: list[Sentence]


@dataclass(frozen=True)
class Scored:
    """Scores on ``gold``'s sentences that had a prediction (``n`` of them)."""

    scores: Scores
    gold: GoldSet
    n: int

    @property
    def label(self) -> str:
        return f"{self.gold.label}, {self.n} sentences"


def gold_to_score_against(project) -> GoldSet | None:
    """The gold set the rule above picks for ``project``, or None."""
    target: Corpus | None = project.target()
    if target is not None and project.has_gold("target"):
        return GoldSet("target", "target set", list(target))
    if project.has_gold("pool"):
        done = {sid for sid, st in project.labels.states().items() if st == "confirmed"}
        return GoldSet("pool", "pool (not confirmed)", [s for s in project.gold() if s.id not in done])
    return None


def score_against_gold(project, predicted: Mapping[str, Iterable[Span]] | None = None) -> Scored | None:
    """Strict scores of predictions against :func:`gold_to_score_against`.

    ``predicted``: sentence id -> spans of successful predictions of that
    role; None reads the newest stored ones. Returns None when there is no
    gold or no prediction to score."""
    gold = gold_to_score_against(project)
    if gold is None:
        return None
    if predicted is None:
        predicted = stored_spans(project, gold.role)
    scored = [g for g in gold.sentences if g.id in predicted]
    if not scored:
        return None
    pred_tags = [spans_to_tags(g.tokens, predicted[g.id])[0] for g in scored]
    return Scored(evaluate([g.tags() for g in scored], pred_tags), gold, len(scored))


def stored_spans(project, role: str) -> dict[str, list[Span]]:
    """The newest stored successful prediction's spans per sentence of ``role``."""
    preds = project.records.predictions(role=role).sort_values("run").drop_duplicates("sentence_id", keep="last")
    return {sid: [Span(a, b, lab, t, "suggested") for a, b, lab, t in spans]
            for sid, spans, err in zip(preds["sentence_id"], preds["spans"], preds["error"]) if not err}
