"""Predict the rest: run the project's predictor over every pool sentence a
person has not confirmed, with the confirmed sentences as demonstrations,
and store each prediction with its provenance.

Provenance (``details["provenance"]`` of each stored prediction): the
predictor's name (``source``: the model id for an LLM), its ``version``
(ALLabel's version, the prompt version for an LLM, and a digest of the
parameters that change answers), those ``params``, the number of confirmed
sentences, and a ``fingerprint``. The retrieved demonstrations, the
uncertainty and the time are the prediction's own columns.

What "changed" means (so a re-run refreshes only that): a sentence is
predicted again when it has no stored prediction from "predict the rest",
when that prediction failed, or when its fingerprint differs. The
fingerprint digests

* the predictor's identity (name and answer-changing parameters;
  concurrency and thread counts are left out: they change speed, not answers),
* the ids of the demonstrations retrieved for the sentence now (the ``k``
  confirmed sentences the predictor's own retriever — dense, BM25 or
  hybrid — returns), and each one's text and confirmed spans,
* for a predictor that also reads the whole store (the kNN predictor's
  store-wide gazetteer: ``reads_whole_store``), every confirmed sentence's
  spans.

So with an LLM (``k`` = 5) a new label refreshes the sentences that now
retrieve it or retrieved a sentence whose labels changed; with the default
kNN predictor, whose gazetteer reads every confirmed entity, any label change
refreshes everything (it is cheap). Skipped sentences are not confirmed, so
they are predicted too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import ConfigError
from ..predictors.base import DemoStore
from .predict import llm_usage_logged

TASK = "predict rest"
# Parameters that change how fast a predictor runs, never what it answers.
SPEED_ONLY = ("concurrency", "threads")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def predictor_identity(predictor) -> dict:
    """``{source, version, params, key}`` for a predictor: ``source`` is what
    exports show (an LLM's model id, else the predictor's name), ``key`` the
    digest the fingerprint uses."""
    from .. import __version__

    params = {k: v for k, v in dict(predictor.params()).items() if k not in SPEED_ONLY}
    source = predictor.identity().get("model") or predictor.name
    key = _digest([predictor.name, params])
    parts = [f"allabel {__version__}"]
    if params.get("prompt_version"):
        parts.append(f"prompt {params['prompt_version']}")
    parts.append(f"params {key[:10]}")
    return {"source": str(source), "name": predictor.name, "version": " · ".join(parts), "params": params, "key": key}


def _label_digest(sentence) -> str:
    return _digest([sentence.text, sorted(sp.key() for sp in sentence.spans_with(("confirmed",)))])


def describe_rate(done: int, total: int, seconds: float) -> str:
    """``"120 of 530 · 14.2 sentences/s · ~29 s left"`` (rate and time left
    once something is done)."""
    text = f"{done} of {total}"
    if done and seconds > 0:
        rate = done / seconds
        left = (total - done) / rate
        text += f" · {rate:.1f} sentences/s · ~{left:.0f} s left"
    return text


@dataclass(frozen=True)
class RestRun:
    """What :func:`predict_rest` did: ``rest`` sentences not confirmed,
    ``predicted`` now, ``kept`` unchanged, ``failed`` (stored with their
    error; a re-run retries them), ``cancelled`` (stopped early: what was
    predicted is stored), ``seconds``, and the predictor's ``source``."""

    rest: int
    predicted: int
    kept: int
    failed: int
    cancelled: bool
    seconds: float
    source: str

    def line(self) -> str:
        rate = f", {self.predicted / self.seconds:.1f} sentences/s" if self.predicted and self.seconds else ""
        head = "stopped early: " if self.cancelled else ""
        return (f"{head}predicted {self.predicted} of {self.rest} sentences not confirmed by a person "
                f"({self.kept} unchanged kept, {self.failed} failed) with {self.source} in {self.seconds:.1f} s{rate}")


def plan_rest(project, embedder, predictor) -> tuple[list, DemoStore, dict, dict[str, str]]:
    """What :func:`predict_rest` would do, without predicting: the bare
    sentences not confirmed, the demonstration store, the predictor identity,
    and each sentence's fingerprint now. Raises ``ConfigError`` with no
    confirmed sentence (nothing to retrieve)."""
    annotated = list(project.annotated())
    if not annotated:
        raise ConfigError("no sentence is confirmed yet: confirm a few labels first, they are the demonstrations")
    confirmed = {s.id for s in annotated}
    rest = [project.sentence(sid).with_spans([]) for sid in project.pool_ids() if sid not in confirmed]
    ident = predictor_identity(predictor)
    demos = DemoStore.from_sentences(annotated, embedder)
    labels = [_label_digest(s) for s in annotated]
    store = _digest(labels) if predictor.reads_whole_store else None
    k = int(predictor.k)
    prints: dict[str, str] = {}
    if rest:
        vectors = embedder.encode([s.text for s in rest])
        pos, _ = demos.retrieve(vectors, k, exclude=[s.id for s in rest], texts=[s.text for s in rest],
                                retriever=predictor.retriever)
        for s, row in zip(rest, pos):
            used = [[demos.ids[p], labels[p]] for p in row if p >= 0]
            prints[s.id] = _digest([ident["key"], used, store])
    return rest, demos, ident, prints


def predict_rest(
    project, embedder, predictor, *, job=None, progress: Callable[[int, int, str], None] | None = None,
    batch: int = 32, force: bool = False,
) -> RestRun:
    """Predict every pool sentence not confirmed by a person whose
    prediction is missing, failed or out of date (see the module docstring);
    ``force`` predicts them all.

    Predictions are stored batch by batch (``batch`` sentences), so a
    stopped run (``job.cancel()``) keeps what it finished. ``progress(done,
    total, message)`` (or ``job.progress``) hears done/total over the
    sentences to predict, with the rate and time left in the message. An LLM
    predictor's calls go into the project's ledger, one row per batch.
    """
    t0 = time.perf_counter()
    say = progress or (job.progress if job is not None else None)
    if say:
        say(0, 0, "embedding the sentences and retrieving their demonstrations")
    rest, demos, ident, prints = plan_rest(project, embedder, predictor)
    stored = project.records.rest_predictions()
    todo = [s for s in rest if force or s.id not in stored or stored[s.id].prediction.error
            or stored[s.id].provenance.get("fingerprint") != prints[s.id]]
    kept = len(rest) - len(todo)
    provenance = {"task": TASK, "source": ident["source"], "predictor": ident["name"], "version": ident["version"],
                  "params": ident["params"], "n_confirmed": len(demos)}
    done = failed = 0
    cancelled = False
    if say:
        say(0, len(todo), f"predicting {describe_rate(0, len(todo), 0)} ({kept} unchanged kept)")
    for lo in range(0, len(todo), max(1, batch)):
        if job is not None and job.cancelled:
            cancelled = True
            break
        chunk = todo[lo:lo + batch]

        def inner(d: int, _t: int, lo=lo) -> None:
            if say:
                n = lo + d
                say(n, len(todo), f"predicting {describe_rate(n, len(todo), time.perf_counter() - t0)}")

        with llm_usage_logged(project, predictor, purpose=TASK, details={"sentences": len(chunk)}):
            preds = predictor.predict(demos, chunk, progress=inner)
        preds = [replace(p, details={**(p.details or {}), "provenance": {**provenance, "fingerprint": prints[p.sentence_id]}})
                 for p in preds]
        project.records.save_predictions(preds, predictor.name, role="pool")
        done += len(chunk)
        failed += sum(1 for p in preds if p.error)
        inner(len(chunk), len(chunk))
    return RestRun(len(rest), done, kept, failed, cancelled, time.perf_counter() - t0, ident["source"])


def least_certain_first(project) -> list[str]:
    """"Review the least certain next": every pool sentence with a stored
    "predict the rest" prediction, the most uncertain first (failed
    predictions last; ties in pool order). Confirmed ones stay in the list
    (so "previous" walks back over them); pass it as ``order=`` to
    :meth:`~allabel_core.project.selections.Selections.next_id`."""
    pos = {sid: i for i, sid in enumerate(project.pool_ids())}
    rest = project.records.rest_predictions()

    def doubt(sid: str) -> float:
        p = rest[sid].prediction
        u = p.uncertainty
        return float("inf") if p.error or u != u else -float(u)

    return sorted((sid for sid in rest if sid in pos), key=lambda sid: (doubt(sid), pos[sid]))
