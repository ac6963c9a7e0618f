"""The budget curve: F1 on a target set against how much of the pool was annotated.

For every strategy, budget and seed: select from the pool (no strategy sees a
gold label; the uncertainty stage sees labels of selected sentences only),
reveal gold for the selected sentences, predict the target with demonstrations
retrieved from them, and score with strict seqeval (:mod:`.scoring`).

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

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..errors import ConfigError
from ..predictors.base import DemoStore
from ..scoring import SCORING, evaluate
from ..selection.budget import resolve_budget
from ..selection.context import SelectionContext
from ..selection.registry import get_strategy, parse_strategy, run_strategy
from ..data.sentence import spans_to_tags

DEFAULT_BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2)
DEFAULT_SEEDS = 3
COLUMNS = [
    "strategy", "budget", "n_selected", "seed", "precision", "recall", "f1", "support",
    "select_seconds", "select_predictor_seconds", "predict_seconds", "deterministic", "stages",
]
PACKAGES = ("allabel", "numpy", "faiss-cpu", "pandas", "seqeval", "torch", "sentence-transformers", "scikit-learn")

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: points finished, points planned, what runs now."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def make_predictor(name: str, embedder, **params):
    """A predictor by CLI name: ``"knn"`` (the offline kNN predictor)."""
    if name == "knn":
        from ..predictors.knn import KnnPredictor

        return KnnPredictor(embedder, **params)
    raise ConfigError(f"unknown predictor {name!r} for curves; choose knn")


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


def build_manifest(pool: Corpus, target: Corpus, runs: Sequence[StrategyRun], budgets, seeds, *, embedder, predictor, cover: str, extra: dict | None = None) -> dict:
    def data(c: Corpus) -> dict:
        info = {"path": c.source, "sentences": len(c), "format": c.format}
        if c.source and Path(c.source).is_file():
            info["sha256"] = sha256_file(c.source)
        return info

    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data": {"pool": data(pool), "target": data(target)},
        "embedder": {"name": getattr(embedder, "name", type(embedder).__name__), "dim": getattr(embedder, "dim", None)},
        "predictor": {"name": getattr(predictor, "name", type(predictor).__name__), "params": predictor.params()},
        "strategies": {r.label: {"strategy": r.name, "params": r.params, "deterministic": r.deterministic} for r in runs},
        "budgets": list(budgets),
        "seeds": list(seeds),
        "cover": cover,
        "labels_hidden": "strategies see no gold; the uncertainty stage sees gold of selected sentences only",
        "seed_policy": "strategies that cannot depend on the seed run once per budget (deterministic=True); full once at budget 1.0",
        "scoring": SCORING,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **(extra or {}),
    }


class ResultsFile:
    """Keeps ``{"manifest": ..., "results": [...]}`` at ``path``, rewritten
    atomically (temporary file + rename) after every row. Use as ``on_result``."""

    def __init__(self, path: str | Path, manifest: dict | None = None):
        self.path = Path(path)
        self.manifest = manifest or {}
        self.rows: list[dict] = []

    def __call__(self, row: dict) -> None:
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        payload = {"manifest": self.manifest, "results": self.rows}
        atomic_write_text(self.path, json.dumps(payload, indent=1, default=_json_default))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the new one, never half:
    a temporary file in the same folder, then a rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


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
    """Mean, standard deviation (0 for a single run) and run count of F1 per strategy × budget."""
    g = frame.groupby(["strategy", "budget"], sort=False)
    out = g.agg(n_selected=("n_selected", "max"), f1_mean=("f1", "mean"), f1_std=("f1", "std"), runs=("f1", "size"))
    out["f1_std"] = out["f1_std"].fillna(0.0)
    return out.reset_index()


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
    progress: Progress | None = None,
    on_result: Callable[[dict], None] | None = None,
    pool_vectors: np.ndarray | None = None,
    target_vectors: np.ndarray | None = None,
    cover: str = "target",
    manifest_extra: dict | None = None,
    out: str | Path | None = None,
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
    after every point (:class:`ResultsFile`). Returns a :class:`CurveResult`.
    """
    if predictor is None:
        raise ConfigError("run_curve needs a predictor to label the target (e.g. make_predictor('knn', embedder))")
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
    if cover == "target" and target_vectors is None:
        target_vectors = embedder.encode(target.texts)
    cover_vectors = target_vectors if cover == "target" else None
    manifest = build_manifest(pool, target, runs, budgets, seeds, embedder=embedder, predictor=predictor, cover=cover, extra=manifest_extra)
    manifest["budget_counts"] = counts
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
            rng=np.random.default_rng(seed), target_vectors=cover_vectors, context=ctx, **r.params,
        )
        select_seconds = time.perf_counter() - started
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
