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

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..data.sentence import Sentence
from ..errors import ConfigError
from ..predictors.base import DemoStore
from ..predictors.identity import SPEED_ONLY, digest, predictor_identity  # noqa: F401 (re-exported)
from .predict import llm_usage_logged

TASK = "predict rest"
_digest = digest


def _label_digest(sentence) -> str:
    return _digest([sentence.text, sorted(sp.key() for sp in sentence.spans_with(("confirmed",)))])


def describe_duration(seconds: float) -> str:
    """``"29 s"``, ``"4 min 10 s"``, ``"2 h 05 min"``: a time left, as a person reads it."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def describe_rate(done: int, total: int, seconds: float, *, start: int = 0) -> str:
    """``"120 of 530 · 14.2 sentences/s · ~29 s left"`` (rate and time left
    once something is done). ``start``: how many of ``done`` were done
    before ``seconds`` started counting (resumed from an earlier run), so the
    rate is this run's own."""
    text = f"{done} of {total}"
    if done > start and seconds > 0:
        rate = (done - start) / seconds
        text += f" · {rate:.1f} sentences/s · ~{describe_duration((total - done) / rate)} left"
    return text


@dataclass(frozen=True)
class RestRun:
    """What :func:`predict_rest` did: ``rest`` sentences not confirmed,
    ``predicted`` now, ``kept`` unchanged (or predicted by an earlier run
    that was stopped), ``failed`` (stored with their error; a re-run retries
    them), ``cancelled`` (stopped early: what was predicted is stored),
    ``seconds``, and the predictor's ``source``."""

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


PLAN_CHUNK = 1024  # sentences embedded and retrieved for at a time while planning


@dataclass(frozen=True)
class RestPlan:
    """What :func:`predict_rest` will do: ``rest`` sentences not confirmed,
    the ids of those to predict (``todo``, pool order) with their
    ``fingerprints``, the demonstration store, the predictor identity and
    the pool texts (sentences are built from them a batch at a time)."""

    rest: int
    todo: list[str]
    fingerprints: dict[str, str]
    demos: DemoStore
    ident: dict
    texts: dict[str, str]

    @property
    def kept(self) -> int:
        return self.rest - len(self.todo)

    def sentences(self, ids) -> list[Sentence]:
        """The bare sentences (no spans) of these ids."""
        return [Sentence.from_text(sid, self.texts[sid]) for sid in ids]


def plan_rest(project, embedder, predictor, *, force: bool = False,
              progress: Callable[[int, int, str], None] | None = None, chunk: int = PLAN_CHUNK) -> RestPlan:
    """What :func:`predict_rest` would do, without predicting: which
    sentences not confirmed need a prediction (none stored, a failed one, or
    another fingerprint; all with ``force``). Works through the pool
    ``chunk`` sentences at a time, so memory holds one chunk's sentences and
    vectors, not the pool's; ``progress(done, total, message)`` hears how
    far. Raises ``ConfigError`` with no confirmed sentence (nothing to
    retrieve)."""
    annotated = list(project.annotated())
    if not annotated:
        raise ConfigError("no sentence is confirmed yet: confirm a few labels first, they are the demonstrations")
    confirmed = {s.id for s in annotated}
    texts = project.pool_texts()
    rest_ids = [sid for sid in texts if sid not in confirmed]
    ident = predictor_identity(predictor)
    demos = DemoStore.from_sentences(annotated, embedder)
    labels = [_label_digest(s) for s in annotated]
    store = _digest(labels) if predictor.reads_whole_store else None
    stored = {} if force else project.records.rest_fingerprints()
    k = int(predictor.k)
    todo: list[str] = []
    prints: dict[str, str] = {}
    t0 = time.perf_counter()
    for lo in range(0, len(rest_ids), max(1, chunk)):
        ids = rest_ids[lo:lo + chunk]
        part = [texts[sid] for sid in ids]
        vectors = embedder.encode(part)
        pos, _ = demos.retrieve(vectors, k, exclude=ids, texts=part, retriever=predictor.retriever)
        for sid, row in zip(ids, pos):
            fp = _digest([ident["key"], [[demos.ids[p], labels[p]] for p in row if p >= 0], store])
            before = stored.get(sid)
            if before is None or before[1] or before[0] != fp:
                todo.append(sid)
                prints[sid] = fp
        if progress and len(rest_ids) > chunk:
            n = lo + len(ids)
            progress(0, 0, f"checking what changed: {describe_rate(n, len(rest_ids), time.perf_counter() - t0)}")
    return RestPlan(len(rest_ids), todo, prints, demos, ident, texts)


def predict_rest(
    project, embedder, predictor, *, job=None, progress: Callable[[int, int, str], None] | None = None,
    batch: int = 32, force: bool = False,
) -> RestRun:
    """Predict every pool sentence not confirmed by a person whose
    prediction is missing, failed or out of date (see the module docstring);
    ``force`` predicts them all.

    Planned and predicted a chunk at a time, and stored batch by batch
    (``batch`` sentences), so memory stays bounded at any pool size and a
    stopped run (``job.cancel()``, Ctrl-C, or a killed process) keeps what
    it finished: the next run skips those sentences (same fingerprint) and
    predicts the rest. ``progress(done, total, message)`` (or
    ``job.progress``) hears done/total over the sentences to predict, with
    the rate and time left in the message. An LLM predictor's calls go into
    the project's ledger, one row per batch.
    """
    t0 = time.perf_counter()
    say = progress or (job.progress if job is not None else None)
    if say:
        say(0, 0, "embedding the sentences and retrieving their demonstrations")
    plan = plan_rest(project, embedder, predictor, force=force, progress=say)
    todo, ident = plan.todo, plan.ident
    provenance = {"task": TASK, "source": ident["source"], "predictor": ident["name"], "version": ident["version"],
                  "params": ident["params"], "n_confirmed": len(plan.demos)}
    done = failed = 0
    cancelled = False
    kept = f" ({plan.kept} unchanged kept)" if plan.kept else ""
    if say:
        say(0, len(todo), f"predicting {describe_rate(0, len(todo), 0)}{kept}")
    t1 = time.perf_counter()
    for lo in range(0, len(todo), max(1, batch)):
        if job is not None and job.cancelled:
            cancelled = True
            break
        chunk = plan.sentences(todo[lo:lo + batch])

        def inner(d: int, _t: int, lo=lo) -> None:
            if say:
                n = lo + d
                say(n, len(todo), f"predicting {describe_rate(n, len(todo), time.perf_counter() - t1)}{kept}")

        with llm_usage_logged(project, predictor, purpose=TASK, details={"sentences": len(chunk)}):
            preds = predictor.predict(plan.demos, chunk, progress=inner)
        preds = [replace(p, details={**(p.details or {}),
                                     "provenance": {**provenance, "fingerprint": plan.fingerprints[p.sentence_id]}})
                 for p in preds]
        project.records.save_predictions(preds, predictor.name, role="pool")
        done += len(chunk)
        failed += sum(1 for p in preds if p.error)
        inner(len(chunk), len(chunk))
    return RestRun(plan.rest, done, plan.kept, failed, cancelled, time.perf_counter() - t0, ident["source"])


def least_certain_first(project) -> list[str]:
    """"Review the least certain next": every pool sentence with a stored
    "predict the rest" prediction, the most uncertain first (failed
    predictions last; ties in pool order). Confirmed ones stay in the list
    (so "previous" walks back over them); pass it as ``order=`` to
    :meth:`~allabel_core.project.selections.Selections.next_id`."""
    pos = {sid: i for i, sid in enumerate(project.pool_ids())}
    doubts = project.records.rest_doubts()

    def doubt(sid: str) -> float:
        u = doubts[sid]
        return float("inf") if u is None else -u

    return sorted((sid for sid in doubts if sid in pos), key=lambda sid: (doubt(sid), pos[sid]))
