"""Predicting with a project's records kept (stored predictions, the LLM
ledger), and suggesting spans for one sentence with the project's annotated
sentences as demonstrations. The predictor itself is built from the
settings by :func:`allabel_core.predictors.registry.predictor_from_settings`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from ..jobs import Progress
from ..predictors.base import DemoStore, Prediction, Predictor


@contextmanager
def llm_usage_logged(project, predictor: Predictor, *, purpose: str, details: Mapping | None = None) -> Iterator[None]:
    """Log what ``predictor``'s ledger counts during the block as one row of
    the project's ledger (:meth:`~allabel_core.project.records.Records.log_ledger`):
    calls, tokens, cost, whether the cache answered. Logged even when the
    block raises (a cancelled job has still spent its calls). A predictor
    without a ``ledger`` (the offline kNN) logs nothing.

    For work that calls the predictor somewhere inside (the uncertainty
    stage); :func:`predict_and_record` wraps one ``predict`` call.
    """
    ledger = predictor.ledger
    if ledger is None:
        yield
        return
    before = ledger.summary()
    try:
        yield
    finally:
        after = ledger.summary()
        cost = None if after["cost_usd"] is None else after["cost_usd"] - (before["cost_usd"] or 0.0)
        ident = predictor.identity()
        project.records.log_ledger(
            model=ident.get("model", predictor.name), base_url=ident.get("base_url", ""),
            calls=after["calls"] - before["calls"], cached=after["cache_hits"] > before["cache_hits"],
            prompt_tokens=after["prompt_tokens"] - before["prompt_tokens"],
            completion_tokens=after["completion_tokens"] - before["completion_tokens"],
            cost=cost, purpose=purpose, details=details,
        )


def predict_and_record(
    project, predictor, demos: DemoStore, sentences: Sequence, *, role: str = "pool", purpose: str,
    details: Mapping | None = None, progress: Progress | None = None,
) -> list[Prediction]:
    """``predictor.predict(demos, sentences)``, with the predictions stored in
    the project under ``role`` (``"pool"`` or ``"target"``) and, for an LLM,
    its calls logged in the project's ledger (:func:`llm_usage_logged`)."""
    with llm_usage_logged(project, predictor, purpose=purpose, details=details):
        preds = predictor.predict(demos, sentences, progress=progress)
    project.records.save_predictions(preds, predictor.name, role=role)
    return preds


def predict_one(project, sentence_id: str, predictor, embedder, *, role: str = "pool",
                purpose: str = "predict", details: dict | None = None) -> Prediction:
    """Predict one sentence (pool or target) from the project's confirmed
    sentences, itself excluded, and store the prediction (and, for an LLM,
    its ledger row, marked ``purpose`` with ``details``). Makes no
    suggestions."""
    if role == "pool":
        sentence = project.sentence(sentence_id)
    else:
        sentence = next(s for s in project.target() if s.id == sentence_id)
    demos = DemoStore.from_sentences([s for s in project.annotated() if s.id != sentence_id], embedder)
    (pred,) = predict_and_record(project, predictor, demos, [sentence.with_spans([])], role=role, purpose=purpose,
                                 details=details or {"sentence_id": sentence_id, "role": role})
    return pred


def suggest_for(project, sentence_id: str, predictor, embedder) -> Prediction:
    """:func:`predict_one` for a pool sentence, then its spans shown as
    suggestions. A prediction that did not succeed (failed, truncated,
    unparseable) is stored with its outcome and changes no span."""
    pred = predict_one(project, sentence_id, predictor, embedder, purpose="suggest",
                       details={"sentence_id": sentence_id})
    if pred.succeeded:
        project.labels.suggest(sentence_id, pred.spans)
    return pred
