"""What the Map page shows of a project, as plain functions over a project.

The gaps colouring (:func:`gap_coloring`), the strategy comparison
(:func:`compare_for_project`), the demonstrations drawn for one clicked
sentence (:func:`map_demonstrations`), what the sentence panel holds
(:func:`sentence_card`) and what a lasso would do to the budget
(:func:`queue_preview`). A notebook gets the same numbers as the page;
nothing here imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..experiment.compare import COMPARE_STRATEGIES, StrategyPicks, compare_strategies
from ..experiment.coverage import SERVED_AT, entity_hits, nearest_selected, pool_gaps, similarity_coverage
from ..selection.stages import get_stage
from .figures import GAP_RANGE, gap_colorscale, gap_values

GAP_KINDS = ("similarity to the selection", "entities among its demonstrations")


def chosen_ids(project) -> list[str]:
    """Everything already chosen: selected by a stage or by hand, or confirmed."""
    confirmed = [sid for sid, st in project.labels.states().items() if st == "confirmed"]
    return list(dict.fromkeys([*project.selections.table()["sentence_id"], *confirmed]))


def gap_coloring(project, pool_vectors: np.ndarray, kind: str = GAP_KINDS[0], *, k: int | None = None,
                 threshold: float = SERVED_AT) -> dict:
    """The "gaps" colouring of the pool: how well the current selection
    serves each sentence.

    ``kind``: ``"similarity to the selection"`` (highest cosine similarity
    to any chosen sentence; a chosen one serves itself) or ``"entities among
    its demonstrations"`` (needs pool gold: the share of the sentence's gold
    entity mentions found among the gold spans of the ``k`` chosen sentences
    retrieved for it; NaN for chosen sentences and sentences without
    entities). Returns :func:`~allabel_core.figures.map_figure` keywords
    (``values, color_by, colorscale, value_range, highlight,
    highlight_name``) plus ``summary``: a
    :class:`~allabel_core.experiment.coverage.SimilarityCoverage` of the unchosen
    pool (or, for entities, ``{"entity coverage": share, "sentences": n}``).
    """
    ids = project.pool_ids()
    row = {sid: i for i, sid in enumerate(ids)}
    chosen = [row[s] for s in chosen_ids(project) if s in row]
    rest = np.setdiff1d(np.arange(len(ids)), chosen)
    out = {"highlight": [ids[i] for i in chosen], "highlight_name": "chosen (selected, queued or confirmed)"}
    if kind == GAP_KINDS[0]:
        out.update(colorscale=gap_colorscale(threshold), value_range=GAP_RANGE)
        best = pool_gaps(pool_vectors, chosen)
        return {**out, "values": gap_values(best), "color_by": "highest similarity to a chosen sentence",
                "summary": similarity_coverage(best[rest], threshold)}
    if kind != GAP_KINDS[1]:
        raise ValueError(f"unknown gaps colouring {kind!r}; choose one of {', '.join(GAP_KINDS)}")
    if not project.has_gold():
        raise ValueError("the entities colouring needs gold labels on the pool")
    k = int(k or project.settings["k"])
    gold = list(project.gold())
    values = np.full(len(ids), np.nan)
    if chosen and len(rest):
        _, pos = nearest_selected(pool_vectors[rest], pool_vectors[chosen], k=k)
        values[rest] = entity_hits([gold[i].spans for i in rest], [gold[i].spans for i in chosen], pos)
    has = np.isfinite(values[rest]) if len(rest) else np.zeros(0, bool)
    share = float(np.nanmean(values[rest])) if has.any() else float("nan")
    out.update(colorscale=gap_colorscale(0.5, (0.0, 1.0)), value_range=(0.0, 1.0))
    return {**out, "values": list(values), "color_by": f"share of its entities among its {k} demonstrations (gold)",
            "summary": {"entity coverage": share, "sentences": int(has.sum())}}


def compare_for_project(project, pool_vectors: np.ndarray, target_vectors: np.ndarray | None, budget: int, *,
                        seed: int, embedder=None, strategies: Sequence[str] = COMPARE_STRATEGIES,
                        threshold: float = SERVED_AT) -> list[StrategyPicks]:
    """:func:`~allabel_core.experiment.compare.compare_strategies` for a project:
    the project's split, stage order and ``k``; the target set when it has
    one (else the pool). With pool gold (and an ``embedder``), ALLabel's
    uncertainty stage predicts with the offline kNN predictor from gold
    revealed for the selected sentences, as the budget curve does (no LLM
    is called to draw a comparison); without, it follows the cold-start
    rule. Entity coverage is measured where the target has gold."""
    s = project.settings
    params = {"split": ":".join(f"{w:g}" for w in s["split"]),
              "order": "".join(get_stage(x).letter for x in s["stage_order"])}
    pool_gold = [g.spans for g in project.gold()] if project.has_gold() else None
    target = project.target()
    if target is not None:
        target_gold = [t.spans for t in target] if project.has_gold("target") else None
    else:
        target_gold = pool_gold
    context_for = None
    if pool_gold is not None and embedder is not None:
        from ..predictors.registry import KNN, build_predictor
        from ..selection import SelectionContext

        gold = list(project.gold())

        def context_for():
            return SelectionContext(gold, build_predictor(KNN, embedder), annotate=lambda idx: [gold[int(i)] for i in idx],
                                    embedder=embedder)

    return compare_strategies(pool_vectors, int(budget), seed=int(seed), strategies=strategies,
                              target_vectors=target_vectors, context_for=context_for, allabel_params=params,
                              threshold=threshold, target_gold=target_gold, pool_gold=pool_gold, k=int(s["k"]))


def map_demonstrations(project, embedder, sentence_id: str, k: int | None = None) -> tuple[list[str], list[float], str]:
    """The sentences the map links to one clicked sentence, best first, and
    what they are: the demonstrations of its newest stored prediction, else
    its ``k`` most similar confirmed sentences (the retrieval corpus), else,
    before any label, its ``k`` most similar chosen sentences (what would be
    retrieved once they are labeled). Returns ``(ids, similarities, kind)``;
    ``kind`` is ``"retrieved"``, ``"would be retrieved"`` or ``""`` (none)."""
    from ..project.tasks import demonstrations_for, pool_vectors

    k = int(k or project.settings["k"])
    ids, sims = demonstrations_for(project, embedder, sentence_id, k)
    if ids:
        return ids, sims, "retrieved"
    pool_ids = project.pool_ids()
    row = {sid: i for i, sid in enumerate(pool_ids)}
    chosen = [row[s] for s in chosen_ids(project) if s in row and s != sentence_id]
    if not chosen or sentence_id not in row:
        return [], [], ""
    vectors = pool_vectors(project, embedder)
    best, pos = nearest_selected(vectors[[row[sentence_id]]], vectors[chosen], k=k)
    keep = pos[0] >= 0
    return [pool_ids[chosen[p]] for p in pos[0][keep]], [float(v) for v in best[0][keep]], "would be retrieved"


@dataclass(frozen=True)
class SentenceCard:
    """What the map's sentence panel shows for one sentence."""

    id: str
    text: str
    stage: str
    reason: str
    status: str
    spans: tuple  # predicted spans (newest stored prediction), else the person's
    spans_from: str  # "prediction", "your labels" or ""
    gold: tuple | None


def sentence_card(project, sentence_id: str) -> SentenceCard:
    """Text, stage and reason, label status and spans of one pool sentence."""
    from .figures import NOT_SELECTED

    sentence = project.sentence(sentence_id)
    sel = project.selections.get(sentence_id)
    reason = ""
    if sel is not None:
        r = sel.get("reason") or {}
        reason = r.get("why") or r.get("note") or ("queued by hand" if sel["stage"] == "manual" else "")
    status = project.labels.state(sentence_id) or ("queued" if sentence_id in set(project.selections.queue()) else "not labeled")
    pred = project.records.prediction(sentence_id)
    if pred is not None and not pred.error:
        spans, src = tuple(pred.spans), "prediction"
    elif sentence.spans:
        spans, src = tuple(sentence.spans), "your labels"
    else:
        spans, src = (), ""
    gold = None
    if project.has_gold():
        gold = next((tuple(g.spans) for g in project.gold() if g.id == sentence_id), None)
    return SentenceCard(sentence_id, sentence.text, sel["stage"] if sel else NOT_SELECTED, reason, status,
                        spans, src, gold)


@dataclass(frozen=True)
class QueuePreview:
    """What queueing a lasso would do: ``new`` sentences added, the queue's
    length after, sentences already confirmed, and the budget."""

    new: int
    queue_after: int
    confirmed: int
    budget: int

    @property
    def over(self) -> int:
        """How far confirmed plus queued would exceed the budget (0 if not)."""
        return max(0, self.confirmed + self.queue_after - self.budget)

    def warning(self) -> str | None:
        if not self.over:
            return None
        done = f" with {self.confirmed} already confirmed" if self.confirmed else ""
        return (f"This puts {self.queue_after} in the queue for a budget of {self.budget}{done}: "
                f"{self.over} more than the budget asks.")


def queue_preview(project, ids: Sequence[str]) -> QueuePreview:
    """Count what :meth:`Selections.enqueue` of ``ids`` would do, changing nothing."""
    states = project.labels.states()
    queue = set(project.selections.queue())
    chosen = set(project.selections.table()["sentence_id"])
    new = [i for i in dict.fromkeys(ids) if i not in chosen]
    after = queue | {i for i in new if states.get(i) is None or states.get(i) == "skipped"}
    confirmed = sum(1 for st in states.values() if st == "confirmed")
    return QueuePreview(len(new), len(after), confirmed, int(project.settings["budget"]))


def budget_progress(prog: dict) -> tuple[float, str]:
    """The progress bar against the budget from :meth:`Project.progress`:
    ``(fraction confirmed, text naming confirmed, queued and the budget)``."""
    budget = max(1, int(prog["budget"]))
    over = prog["confirmed"] + prog["pending"] - budget
    text = f"{prog['confirmed']} confirmed + {prog['pending']} in the queue, for a budget of {prog['budget']}"
    if over > 0:
        text += f" ({over} over the budget)"
    return min(1.0, prog["confirmed"] / budget), text
