"""The budget curve: F1 on a target set against how much of the pool was annotated.

For every strategy, budget and seed: select from the pool (no strategy sees a
gold label; the uncertainty stage sees labels of selected sentences only),
reveal gold for the selected sentences, predict the target with demonstrations
retrieved from them, and score with strict seqeval (:mod:`.scoring`). Beside
F1, each point reports demonstration entity coverage@k
(:mod:`allabel_core.retrieval.coverage`): the share of a target sentence's gold entities
found among the entities of its ``k`` retrieved demonstrations, under the
predictor's retriever; it needs no predictor, so it is what a selection
offers an LLM one does not have.

Seeds: a strategy whose result cannot depend on the seed (``full``; the
core-set with a deterministic seed rule) is run once per budget and reported
once, with ``deterministic=True``; its spread is then zero by construction,
not by measurement. Every other strategy runs once per seed (seeds also
break exact score ties, so similarity and ALLabel do vary with them).
``full`` (the ceiling) is run once, at budget 1.0.

Results stream: ``on_result(row)`` is called as each point finishes, and
:class:`ResultsFile` keeps ``{"manifest": ..., "results": [...]}`` on disk,
rewritten atomically after every point, so a dashboard can poll it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..errors import ConfigError
from ..jobs import StepProgress
from ..predictors.base import DemoStore
from ..retrieval import as_config
from ..retrieval.coverage import DEFAULT_K as COVERAGE_K
from ..retrieval.coverage import demonstration_coverage
from ..scoring import evaluate
from .manifest import ResultsFile, build_manifest
from ..selection.budget import resolve_budget
from ..selection.context import SelectionContext
from ..selection.registry import get_strategy, parse_strategy, run_strategy
from ..data.sentence import spans_to_tags

DEFAULT_BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2)
DEFAULT_SEEDS = 3
COLUMNS = [
    "strategy", "budget", "n_selected", "seed", "precision", "recall", "f1", "support", "coverage", "coverage_micro",
    "select_seconds", "select_predictor_seconds", "predict_seconds", "deterministic", "stages",
]



@dataclass(frozen=True)
class StrategyRun:
    """A strategy as it appears in a curve: ``label`` (what results show),
    registry ``name`` and its fully resolved ``params``."""

    label: str
    name: str
    params: dict

    @classmethod
    def parse(cls, spec) -> StrategyRun:
        if isinstance(spec, StrategyRun):
            return spec
        if isinstance(spec, str):
            label, name, params = parse_strategy(spec)
        else:
            label, name, params = spec
        return cls(label, name, get_strategy(name).resolve(params))

    @property
    def deterministic(self) -> bool:
        return not get_strategy(self.name).uses_rng(self.params)


def strategy_runs(specs: Sequence, retriever=None, rrf_k: float | None = None) -> list[StrategyRun]:
    """Parse strategy specs, giving ``retriever=`` (and ``rrf_k=``) to every
    strategy that takes them and whose spec does not set them: how one
    ``--retriever`` reaches every strategy of a curve. Labels stay as
    written; the manifest records the retriever each one used."""
    runs = []
    for spec in specs:
        if isinstance(spec, StrategyRun) or (retriever is None and rrf_k is None):
            runs.append(StrategyRun.parse(spec))
            continue
        label, name, params = parse_strategy(spec) if isinstance(spec, str) else spec
        defaults = get_strategy(name).defaults
        params = dict(params)
        if retriever is not None and "retriever" in defaults:
            params.setdefault("retriever", as_config(retriever).name)
        if rrf_k is not None and "rrf_k" in defaults:
            params.setdefault("rrf_k", float(rrf_k))
        runs.append(StrategyRun(label, name, get_strategy(name).resolve(params)))
    return runs


def retriever_of(predictor):
    """The demonstration retriever of ``predictor`` (dense if it names none)."""
    return as_config(getattr(predictor, "retriever", None))


def retrieval_manifest(runs: Sequence[StrategyRun], predictor, coverage_k: int) -> dict:
    """Which retriever did what in a curve: demonstrations (the predictor's),
    each strategy's stage-2 lists, the core-set, and coverage@k."""
    return {
        "demonstrations": retriever_of(predictor).params(),
        # run_curve always gives the stages the sentences' text, so "auto" is resolved as with text.
        "coverage_lists": {r.label: as_config(r.params["retriever"], r.params.get("rrf_k")).params()
                           for r in runs if "retriever" in r.params},
        "core_set": "dense cosine of sentence vectors",
        "coverage": {"k": int(coverage_k), **retriever_of(predictor).params()},
    }
@dataclass
class CurveResult:
    """``frame``: one row per (strategy, budget, seed) point, columns
    :data:`COLUMNS`; ``manifest``: what produced it."""

    frame: pd.DataFrame
    manifest: dict

    def summary(self) -> pd.DataFrame:
        return summarise(self.frame)

    def to_json(self, path: str | Path) -> None:
        out = ResultsFile(path, self.manifest)
        out.rows = self.frame.to_dict("records")
        out.write()


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (0 for a single run) and run count of F1 and
    of demonstration coverage@k per strategy × budget."""
    g = frame.groupby(["strategy", "budget"], sort=False)
    aggs = dict(n_selected=("n_selected", "max"), f1_mean=("f1", "mean"), f1_std=("f1", "std"), runs=("f1", "size"))
    if "coverage" in frame:
        aggs.update(cov_mean=("coverage", "mean"), cov_std=("coverage", "std"))
    out = g.agg(**aggs)
    out["f1_std"] = out["f1_std"].fillna(0.0)
    if "cov_std" in out:
        out["cov_std"] = out["cov_std"].fillna(0.0)
    return out.reset_index()


def selection_coverage(selected: Sequence[int], pool: Corpus, pool_vectors: np.ndarray, target: Corpus,
                       target_vectors: np.ndarray | None, *, k: int = COVERAGE_K, retriever="dense", embedder=None):
    """Demonstration entity coverage@``k`` of ``target`` by the gold of the
    ``selected`` pool rows (:func:`~allabel_core.retrieval.coverage.demonstration_coverage`)."""
    idx = np.asarray(selected, dtype=np.int64)
    return demonstration_coverage([pool[int(i)] for i in idx], list(target), k=k, retriever=retriever,
                                  demo_vectors=pool_vectors[idx], target_vectors=target_vectors, embedder=embedder)


def predict_and_score(selected: Sequence[int], pool: Corpus, pool_vectors: np.ndarray, target: Corpus, predictor) -> tuple:
    """Reveal gold for ``selected``, predict ``target`` (labels hidden) from
    them, score strictly. Returns ``(Scores, seconds)``."""
    idx = np.asarray(selected, dtype=np.int64)
    demos = DemoStore([pool[int(i)] for i in idx], pool_vectors[idx])
    hidden = [s.with_spans([]) for s in target]
    started = time.perf_counter()
    preds = predictor.predict(demos, hidden)
    seconds = time.perf_counter() - started
    gold = [s.tags() for s in target]
    pred = [spans_to_tags(s.tokens, p.spans)[0] for s, p in zip(target, preds)]
    return evaluate(gold, pred), seconds


def run_curve(
    pool: Corpus,
    target: Corpus,
    strategies: Sequence = ("random", "coreset", "similarity", "uncertainty", "allabel", "full"),
    budgets: Sequence = DEFAULT_BUDGETS,
    predictor=None,
    seeds: int | Sequence[int] = DEFAULT_SEEDS,
    *,
    embedder,
    progress: StepProgress | None = None,
    on_result: Callable[[dict], None] | None = None,
    pool_vectors: np.ndarray | None = None,
    target_vectors: np.ndarray | None = None,
    cover: str = "target",
    manifest_extra: dict | None = None,
    out: str | Path | None = None,
    coverage_k: int = COVERAGE_K,
) -> CurveResult:
    """F1 on ``target`` for each strategy, budget and seed.

    ``pool``: annotated corpus to select from (its gold is revealed only for
    selected sentences); ``target``: annotated corpus to predict and score
    (its gold is used for scoring only). ``strategies``: names or variant
    specs (``"allabel[split=1:4:0]"``). ``budgets``: counts or pool
    fractions. ``predictor``: a :class:`~allabel_core.predictors.Predictor`
    (used for the uncertainty stage and for predicting the target).
    ``seeds``: a count (seeds ``0..n-1``) or the seeds themselves.
    ``embedder``: gives sentence vectors unless ``pool_vectors`` /
    ``target_vectors`` (``(N, d)`` / ``(T, d)`` float32, unit rows) are
    passed. ``cover``: what stage 2 covers, ``"target"`` (the benchmark
    setting: target sentences, never their labels) or ``"pool"``.
    ``on_result(row)`` is called as each point finishes; ``progress(done,
    total, what)`` as each starts. ``out``: a JSON file kept up to date
    after every point (:class:`ResultsFile`). ``coverage_k``: the ``k`` of
    the coverage@k column (demonstrations retrieved with the predictor's
    retriever). Returns a :class:`CurveResult`.
    """
    if predictor is None:
        raise ConfigError("run_curve needs a predictor to label the target (e.g. allabel_core.predictors.registry.build_predictor(name, embedder))")
    if cover not in ("target", "pool"):
        raise ConfigError(f"cover must be 'target' or 'pool', got {cover!r}")
    seeds = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("give at least one seed")
    runs = [StrategyRun.parse(s) for s in strategies]
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"strategies repeat: {', '.join(labels)}")
    counts = [resolve_budget(b, len(pool)) for b in budgets]
    if pool_vectors is None:
        pool_vectors = embedder.encode(pool.texts)
    if target_vectors is None:
        target_vectors = embedder.encode(target.texts)
    demo_retriever = retriever_of(predictor)
    cover_vectors = target_vectors if cover == "target" else None
    manifest = build_manifest(pool, target, runs, budgets, seeds, embedder=embedder, predictor=predictor, cover=cover, extra=manifest_extra)
    manifest["budget_counts"] = counts
    manifest["retrieval"] = retrieval_manifest(runs, predictor, coverage_k)
    stream = ResultsFile(out, manifest) if out is not None else None
    if stream:
        stream.write()

    plan: list[tuple[StrategyRun, float, int, int]] = []
    for r in runs:
        if r.name == "full":
            plan.append((r, 1.0, len(pool), seeds[0]))
    for b, n in zip(budgets, counts):
        frac = float(b) if isinstance(b, float) and b <= 1 else n / len(pool)
        for i, seed in enumerate(seeds):
            for r in runs:
                if r.name != "full" and (i == 0 or not r.deterministic):
                    plan.append((r, frac, n, seed))

    hidden = [s.with_spans([]) for s in pool]
    rows = []
    for done, (r, frac, n, seed) in enumerate(plan):
        if progress:
            progress(done, len(plan), f"{r.label} budget {frac:g} ({n}) seed {seed}")
        ctx = SelectionContext(hidden, predictor, annotate=lambda idx: [pool[int(i)] for i in idx], embedder=embedder)
        started = time.perf_counter()
        sel = run_strategy(
            r.name, pool_vectors, [], None if r.name == "full" else n,
            rng=np.random.default_rng(seed), target_vectors=cover_vectors, context=ctx, pool_texts=pool.texts,
            target_texts=target.texts if cover == "target" else None, **r.params,
        )
        select_seconds = time.perf_counter() - started
        cov = selection_coverage(sel.indices, pool, pool_vectors, target, target_vectors, k=coverage_k,
                                 retriever=demo_retriever)
        scores, predict_seconds = predict_and_score(sel.indices, pool, pool_vectors, target, predictor)
        row = {
            "strategy": r.label,
            "budget": frac,
            "n_selected": len(sel),
            "seed": seed,
            "precision": scores.precision,
            "recall": scores.recall,
            "f1": scores.f1,
            "support": scores.support,
            "coverage": cov.macro,
            "coverage_micro": cov.micro,
            "select_seconds": select_seconds,
            "select_predictor_seconds": ctx.predictor_seconds,
            "predict_seconds": predict_seconds,
            "deterministic": r.deterministic,
            "stages": ",".join(f"{k}:{v}" for k, v in sel.by_stage().items()),
        }
        rows.append(row)
        if stream:
            stream(row)
        if on_result:
            on_result(row)
    if progress:
        progress(len(plan), len(plan), "done")
    return CurveResult(pd.DataFrame(rows, columns=COLUMNS), manifest)
