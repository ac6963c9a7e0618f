"""The long tasks the dashboard runs as background jobs, as plain functions
over a project (a notebook calls them directly; the runner is :mod:`.jobs`).

Laying out the map (:func:`compute_map`), running ALLabel's stages on a live
project and recording why each sentence was picked (:func:`run_stages`),
refreshing predictions and the person's own curve (:func:`keep_live_curve`),
predicting one sentence (:func:`predict_one`, defined in project_predict), and the budget experiment on
gold data (:func:`run_experiment`). An LLM predictor's calls made here go
into the project's ledger, as a suggestion's do
(:func:`~.project_predict.llm_usage_logged`).
"""

from __future__ import annotations

from ..jobs import Job
from ..retrieval import DEFAULT_RETRIEVER, as_config
from .predict import llm_usage_logged, predict_and_record, predict_one  # noqa: F401 (re-exported)
from ..selection.uncertainty import COLD_START

from ..selection.stages import STAGES, get_stage
from ..vectors.remote import embedder_identity


def pool_vectors(project, embedder, progress=None):
    """The pool's sentence vectors, ``(len(project), d)`` float32 unit rows
    (disk-cached by the embedder, so only the first call embeds). The first
    embedder used is recorded; another one raises
    :class:`~allabel_core.errors.EmbedderMismatchError` (see :func:`reembed`)."""
    project.records.use_embedder(embedder_identity(embedder))
    return embedder.encode(list(project.pool_texts().values()), progress=progress)


def target_vectors(project, embedder):
    """The target set's vectors, or None when the pool is the target."""
    target = project.target()
    if target is None:
        return None
    project.records.use_embedder(embedder_identity(embedder))
    return embedder.encode(target.texts)


def reembed(project, embedder, progress=None):
    """Make ``embedder`` the project's embedder: embed pool and target with
    it (cached ones are not sent again) and drop the map layout made from the
    old vectors. Returns the pool vectors. Labels and selections stay."""
    vectors = embedder.encode(list(project.pool_texts().values()), progress=progress)
    target = project.target()
    if target is not None:
        embedder.encode(target.texts)
    project.records.use_embedder(embedder_identity(embedder), replace=True)
    return vectors


def stage_quotas(project) -> dict[str, int]:
    """Each stage's share of the project's budget (settings ``budget``,
    ``split``, ``stage_order``), by stage name. The split set in Settings is
    followed as it is: a person who runs the stages one by one chose it
    (``select_allabel``'s ``min_stage`` folding is for batch selection)."""
    from ..selection import split_budget

    s = project.settings
    order = "".join(get_stage(x).letter for x in s["stage_order"])
    quotas = split_budget(int(s["budget"]), ":".join(str(w) for w in s["split"]), order)
    return {stage.name: quotas[stage.letter] for stage in STAGES}


def _why(pick, ids) -> dict:
    """A pick's reason as stored: a sentence a person reads, plus the numbers."""
    near = None if pick.nearest is None else ids[pick.nearest]
    if pick.stage == "diversity" and near is None:
        text = f"seed: lowest mean similarity to the pool ({pick.score:.3f})"
    elif pick.stage == "diversity":
        text = f"far from everything selected: nearest selected sentence {near} at similarity {pick.nearest_similarity:.3f}"
    elif pick.stage == "similarity":
        text = f"retrieval coverage of the target: {pick.score:.1f} rank points; {pick.note}"
    elif pick.note.startswith(COLD_START):
        text = pick.note  # no uncertainty was measured: say what decided instead
    else:
        text = f"predictor unsure: uncertainty {pick.score:.3f}; {pick.note}"
    return {"why": text, "note": pick.note, "nearest": near, "nearest_similarity": pick.nearest_similarity}


def run_stages(project, embedder, predictor, stages, *, progress=None) -> list[dict]:
    """Run ALLabel stages on a project for what is left of each stage's
    quota, and record the picks (stage, score, reason) in the project.

    ``stages``: names from ``diversity``, ``similarity``, ``uncertainty``, run
    in the project's stage order. Everything already selected or confirmed
    counts as selected. The uncertainty stage retrieves demonstrations from
    the *confirmed* sentences only: selected sentences not yet labelled have
    no labels to show, so they are left out of the demonstrations and of the
    candidates (each pick's note says how many); an LLM predictor's calls
    for it are one row of the project's ledger. Returns the new picks as
    ``{sentence_id, stage, score, reason}`` dicts, in pick order.
    """
    import numpy as np

    from ..selection import Pick, SelectionContext, run_stage

    ids = project.pool_ids()
    row = {sid: i for i, sid in enumerate(ids)}
    pool = pool_vectors(project, embedder)
    target = target_vectors(project, embedder)
    settings = project.settings
    rng = np.random.default_rng(int(settings.get("seed", 0)))
    quotas = stage_quotas(project)
    retrieval = {"retriever": settings.get("retriever", DEFAULT_RETRIEVER), "rrf_k": float(settings.get("rrf_k", 60.0))}
    target_corpus = project.target()
    texts = {"pool_texts": list(project.pool_texts().values()),
             "target_texts": None if target_corpus is None else target_corpus.texts}
    order = [s for s in settings["stage_order"] if s in stages]
    done_per_stage = project.selections.table()["stage"].value_counts().to_dict()
    new: list[dict] = []
    # The bar counts picks over every stage run; the message names the stage
    # and its own count ("similarity: 23 of 35"). Diversity and similarity
    # pick in well under a second; the uncertainty stage reports as its
    # predictor scores the shortlist.
    wanted = {s: max(0, quotas[s] - int(done_per_stage.get(s, 0))) for s in order}
    total, before = max(1, sum(wanted.values())), 0

    def say(done: int, what: str) -> None:
        if progress:
            progress(min(before + done, total), total, what)

    for stage in order:
        say(0, f"{stage}: 0 of {wanted[stage]}")
        confirmed = {sid for sid, st in project.labels.states().items() if st == "confirmed"}
        chosen = list(project.selections.table()["sentence_id"]) + sorted(confirmed)
        selected = list(dict.fromkeys(row[s] for s in chosen if s in row))
        q = min(max(0, quotas[stage] - int(done_per_stage.get(stage, 0))), len(ids) - len(selected))
        if q == 0:
            continue
        if stage != "uncertainty":
            picks = list(run_stage(stage, pool, selected, q, rng=rng, target_vectors=target, **retrieval, **texts))
        else:
            keep = [i for i in range(len(ids)) if i not in set(selected) or ids[i] in confirmed]
            at = {orig: j for j, orig in enumerate(keep)}
            annotated = {s.id: s for s in project.annotated()}
            sub_sel = [at[i] for i in selected if ids[i] in confirmed]
            ctx = SelectionContext(
                sentences=[project.sentence(ids[i]) for i in keep], predictor=predictor,
                annotated={at[row[sid]]: s for sid, s in annotated.items()}, embedder=embedder,
                progress=lambda d, t: say(0, f"uncertainty: predicting {d} of {t} candidates for {q} picks"),
            )
            with llm_usage_logged(project, predictor, purpose="uncertainty stage", details={"quota": q}):
                sub = run_stage(stage, pool[keep], sub_sel, min(q, len(keep) - len(sub_sel)), rng=rng,
                                context=ctx, target_vectors=target, **retrieval,
                                target_texts=texts["target_texts"])
            left_out = len(selected) - len(sub_sel)
            picks = [
                Pick(keep[p.index], p.stage, p.score, None, None,
                        p.note + (f"; {left_out} selected but unlabelled sentences not used" if left_out else ""))
                for p in sub
            ]
        records = [{"id": ids[p.index], "stage": stage, "score": p.score, "reason": _why(p, ids)} for p in picks]
        project.selections.record(records)
        new += [{"sentence_id": r["id"], **{k: r[k] for k in ("stage", "score", "reason")}} for r in records]
        say(len(records), f"{stage}: {len(records)} of {wanted[stage]}")
        before += wanted[stage]
    if progress:
        progress(total, total, "done")
    return new


def refresh_predictions(project, embedder, predictor, *, predict_pool: bool = True, progress=None) -> dict | None:
    """Predict with the confirmed sentences as demonstrations, store the
    predictions, and add one point to the person's live curve.

    Predicts the target set (if the project has one) and, with
    ``predict_pool``, the pool (for the map's uncertainty and error
    colourings; cheap for the offline predictor, not for an LLM, whose
    calls go into the project's ledger, one row per set predicted). Scores
    against gold by the one rule of :mod:`.scoring` (the target's gold, else
    the pool's on the sentences not confirmed). Returns the curve point stored
    (``n_labeled, f1, precision, recall, scored_on``), or None with no
    confirmed sentence yet.
    """
    from ..predictors.base import DemoStore
    from .scoring import gold_to_score_against, score_against_gold

    annotated = list(project.annotated())
    if not annotated:
        return None
    demos = DemoStore.from_sentences(annotated, embedder)
    target = project.target()
    gold = gold_to_score_against(project)
    on_pool = predict_pool or target is None or (gold is not None and gold.role == "pool")
    pool = [s.with_spans([]) for s in project.pool()] if on_pool else []
    total = len(pool) + (len(target) if target is not None else 0)
    done = 0

    def predict(sentences, role):
        nonlocal done
        preds = predict_and_record(
            project, predictor, demos, sentences, role=role, purpose="live curve",
            details={"role": role, "sentences": len(sentences), "n_labeled": len(annotated)},
            progress=(lambda d, _t: progress(done + d, total, f"predicting ({role})")) if progress else None)
        done += len(sentences)
        return preds

    point = {"strategy": "you", "n_labeled": len(annotated), "budget": len(annotated) / len(project),
             "predictor": predictor.name}
    pool_preds = predict(pool, "pool") if pool else []
    target_preds = predict([s.with_spans([]) for s in target], "target") if target is not None else []
    preds = target_preds if gold is not None and gold.role == "target" else pool_preds
    if gold is not None:
        point["scored_on"] = gold.label
        scored = score_against_gold(project, {p.sentence_id: p.spans for p in preds if not p.error})
        if scored is not None:
            s = scored.scores
            point.update(f1=s.f1, precision=s.precision, recall=s.recall, support=s.support, scored_sentences=scored.n)
    project.records.save_curve([point], run="live")
    return point


def keep_live_curve(project, embedder, predictor, job: Job | None = None, *, predict_pool: bool = True) -> int:
    """Refresh predictions until the live curve has a point for the current
    number of confirmed sentences (labels confirmed meanwhile trigger another
    round). Returns the number of rounds run."""
    rounds = 0
    while not (job and job.cancelled):
        n = sum(1 for st in project.labels.states().values() if st == "confirmed")
        live = project.records.curve_results("live")
        if n == 0 or ("n_labeled" in live and (live["n_labeled"] == n).any()):
            break
        refresh_predictions(project, embedder, predictor, predict_pool=predict_pool,
                            progress=job.progress if job else None)
        rounds += 1
    return rounds


def embedding_progress(say):
    """A ``progress(done, total)`` for :meth:`Embedder.encode` that tells
    ``say(done, total, message)`` "embedding n of N sentences, ~t s left".
    The embedder's first report comes before its model loads (cached vectors
    only), so that one says the model is loading, and the rate is timed from
    the first chunk embedded."""
    import time

    from ..jobs import time_left

    clock: dict = {}

    def embedding(done: int, total: int) -> None:
        if not clock:
            clock["loading"] = True
            what = f"loading the embedding model, then embedding {total - done} of {total} sentences"
        elif clock.pop("loading", False):
            clock.update(t0=time.perf_counter(), first=done)
            what = f"embedding {done} of {total} sentences"
        else:
            what = (f"embedding {done} of {total} sentences"
                    f"{time_left(done, total, time.perf_counter() - clock['t0'], since=clock['first'])}")
        say(done, total, what)

    return embedding


def compute_map(project, embedder, *, warm: Job | None = None, job: Job | None = None):
    """The project's 2-D map (see :func:`allabel_core.vectors.layout.stored_layout`):
    embeds the pool, waits for a running UMAP ``warm`` up job, lays it out
    once and stores it in the project. Returns ``(len(project), 2)`` float32."""
    from ..vectors.layout import PROJECT_STEPS, stored_layout

    say = job.progress if job else (lambda *a: None)
    vectors = pool_vectors(project, embedder, progress=embedding_progress(say))
    while warm is not None and not warm.wait(0.5):  # show the warm-up's own steps meanwhile
        w = warm.status()
        say(w["done"], w["total"], f"UMAP warm-up, once per server: {w['message'] or 'starting'}")
    return stored_layout(project.records, project.pool_ids(), vectors,
                          progress=lambda d, t: say(d, t, PROJECT_STEPS[min(d, len(PROJECT_STEPS) - 1)]))


def demonstrations_for(project, embedder, sentence_id: str, k: int = 5) -> tuple[list[str], list[float]]:
    """The demonstrations retrieved for a pool sentence, best first: those of
    its newest stored prediction, else the ``k`` most similar confirmed
    sentences (itself excluded) under the project's ``retriever`` setting.
    Returns ``(ids, scores)``."""
    from ..predictors.base import DemoStore

    pred = project.records.prediction(sentence_id)
    if pred is not None and pred.demonstrations:
        pairs = sorted(zip(pred.demonstrations, pred.similarities), key=lambda p: -p[1])
        return [p[0] for p in pairs], [float(p[1]) for p in pairs]
    demos = DemoStore.from_sentences(list(project.annotated()), embedder)
    if not len(demos):
        return [], []
    text = project.sentence(sentence_id).text
    retriever = as_config(project.settings.get("retriever", DEFAULT_RETRIEVER), project.settings.get("rrf_k"))
    pos, sims = demos.retrieve(embedder.encode([text]), k, exclude=[sentence_id], texts=[text], retriever=retriever)
    keep = pos[0] >= 0
    return [demos.ids[p] for p in pos[0][keep]], [float(s) for s in sims[0][keep]]


def run_experiment(project, embedder, predictor, *, strategies, budgets, seeds, job: Job | None = None):
    """The budget curve on the project's gold data
    (:func:`allabel_core.experiment.curve.run_curve`): the pool with gold revealed
    only for selected sentences, the target set scored. Each point is stored
    in the project (run ``"experiment"``, earlier points replaced) and added
    to ``job``'s results as it finishes. Needs a target set with gold."""
    from ..errors import ConfigError
    from ..experiment.curve import run_curve, strategy_runs

    target = project.target()
    if target is None or not project.has_gold("target") or not project.has_gold("pool"):
        raise ConfigError("the experiment needs gold labels on the pool and a target set with gold labels")
    project.records.save_curve([], run="experiment", replace=True)

    def progress(done, total, what):
        if job:
            job.check()
            job.progress(done, total, what)

    def on_result(row):
        project.records.save_curve([row], run="experiment")
        if job:
            job.add_result(row)

    with llm_usage_logged(project, predictor, purpose="experiment"):
        runs = strategy_runs(strategies, project.settings.get("retriever", DEFAULT_RETRIEVER), project.settings.get("rrf_k"))
        return run_curve(project.gold(), target, runs, budgets, predictor, seeds, embedder=embedder,
                         progress=progress, on_result=on_result).manifest
