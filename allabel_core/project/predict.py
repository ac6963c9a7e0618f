"""The predictor a project's settings name, predicting with it while keeping
the project's records (stored predictions, the LLM ledger), and suggesting
spans for one sentence with the project's annotated sentences as
demonstrations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from ..predictors.base import DemoStore, Prediction, Progress
from .records import public_url

KNN_NAME = "offline kNN predictor"


def predictor_description(settings: Mapping) -> str:
    """What the UI shows as "predictor in use", without building it."""
    if settings.get("predictor") == "openai":
        return f"LLM {settings.get('model') or '(no model set)'} at {public_url(settings.get('base_url') or '')}"
    return KNN_NAME


def predictor_for(settings: Mapping, embedder, schema, *, api_key: str | None = None):
    """Build the predictor the settings name.

    ``"knn"``: :class:`~allabel_core.predictors.knn.KnnPredictor` with its
    tuned defaults (its own ``k`` is the number of demonstrations it votes
    over; the ``k`` setting is the LLM's prompt size). ``"openai"``:
    :class:`~allabel_core.predictors.llm.LlmPredictor` over
    :class:`~allabel_core.predictors.llm.OpenAICompatible` at the configured
    ``base_url`` and ``model``, with ``k`` demonstrations and ``seed``; the
    key is ``api_key`` (typed for the session) or ``$OPENAI_API_KEY``.
    ``schema``: a :class:`~allabel_core.data.schema.Schema` (definitions go
    into the prompt).
    """
    if settings.get("predictor") == "openai":
        from ..predictors.llm import LlmPredictor
        from ..predictors.openai_model import OpenAICompatible

        model = OpenAICompatible(settings.get("base_url"), settings.get("model"), api_key or None)
        labels = {t.name: t.description for t in schema.types}
        return LlmPredictor(model, labels, embedder=embedder, k=int(settings.get("k", 5)),
                            seed=int(settings.get("seed", 0)))
    from ..predictors.knn import KnnPredictor

    return KnnPredictor(embedder)


@contextmanager
def llm_usage_logged(project, predictor, *, purpose: str, details: Mapping | None = None) -> Iterator[None]:
    """Log what ``predictor``'s ledger counts during the block as one row of
    the project's ledger (:meth:`~allabel_core.project.core.Project.log_ledger`):
    calls, tokens, cost, whether the cache answered. Logged even when the
    block raises (a cancelled job has still spent its calls). A predictor
    without a ``ledger`` (the offline kNN) logs nothing.

    For work that calls the predictor somewhere inside (the uncertainty
    stage); :func:`predict_and_record` wraps one ``predict`` call.
    """
    ledger = getattr(predictor, "ledger", None)
    if ledger is None:
        yield
        return
    before = ledger.summary()
    try:
        yield
    finally:
        after = ledger.summary()
        cost = None if after["cost_usd"] is None else after["cost_usd"] - (before["cost_usd"] or 0.0)
        model = getattr(predictor, "model", None)
        ident = model.identity() if hasattr(model, "identity") else {}
        project.log_ledger(
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
    project.save_predictions(preds, predictor.name, role=role)
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
    suggestions. A failed prediction is stored with its error and changes no
    span."""
    pred = predict_one(project, sentence_id, predictor, embedder, purpose="suggest",
                       details={"sentence_id": sentence_id})
    if not pred.error:
        project.suggest(sentence_id, pred.spans)
    return pred
