"""run_curve on a tiny slice of a real dataset, with a fake predictor."""

import json

import numpy as np
import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.errors import BudgetError, ConfigError
from allabel_core.experiment.curve import COLUMNS, run_curve, summarise
from allabel_core.experiment.manifest import ResultsFile
from allabel_core.scoring import SCORING
from allabel_core.data.sentence import Sentence
from fakes import FakeEmbedder, FakePredictor


def load(path, n):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")][:n]
    return Corpus([Sentence.from_tags(r["id"], r["tokens"], r["tags"])[0] for r in rows], source=str(path), format="jsonl")


@pytest.fixture(scope="module")
def data(shared_datasets):
    return load(shared_datasets / "matscholar" / "train.jsonl", 200), load(shared_datasets / "matscholar" / "dev.jsonl", 40)


def test_curve_rows_manifest_and_stream(data, tmp_path):
    pool, target = data
    pred = FakePredictor()
    seen, progress = [], []
    out = tmp_path / "curve.json"
    res = run_curve(
        pool, target, ["random", "coreset", "similarity", "uncertainty", "allabel", "allabel[split=1:4:0]", "full"],
        [0.05, 20], pred, 2, embedder=FakeEmbedder(), on_result=seen.append,
        progress=lambda d, t, w: progress.append((d, t)), out=out,
    )
    df = res.frame
    assert list(df.columns) == COLUMNS
    # full once; coreset (deterministic) once per budget; the rest once per seed.
    counts = df.groupby("strategy").size().to_dict()
    assert counts == {"full": 1, "coreset": 2, "random": 4, "similarity": 4, "uncertainty": 4, "allabel": 4, "allabel[split=1:4:0]": 4}
    assert df.loc[df.strategy == "full", "n_selected"].item() == 200
    assert set(df.loc[df.strategy != "full", "n_selected"]) == {10, 20}
    assert df.loc[df.strategy == "coreset", "deterministic"].all() and not df.loc[df.strategy == "random", "deterministic"].any()
    assert ((df.f1 >= 0) & (df.f1 <= 1)).all() and (df.predict_seconds >= 0).all()
    # Shares below min_stage (20 sentences) fold into similarity at budgets this small.
    assert df.loc[df.strategy == "allabel", "stages"].iloc[0] == "similarity:10"
    # Uncertainty-only starts from nothing selected: a cold start, which asks no predictor.
    assert (df.loc[df.strategy == "uncertainty", "select_predictor_seconds"] == 0).all()
    assert len(seen) == len(df) and progress[-1] == (len(df), len(df))
    # Labels: every predicted target sentence arrived without spans (FakePredictor asserts),
    # and every demonstration store held selected pool sentences only.
    pool_ids = set(pool.ids)
    assert all(set(demos) <= pool_ids for demos, _ in pred.calls)
    m = res.manifest
    assert m["scoring"] == SCORING and m["seeds"] == [0, 1] and m["budget_counts"] == [10, 20]
    assert len(m["data"]["pool"]["sha256"]) == 64 and m["predictor"]["name"] == "fake predictor"
    assert m["strategies"]["allabel"]["params"]["split"] == "1:3:1" and m["embedder"]["name"] == "fake-embedder"
    assert m["packages"]["numpy"]
    saved = json.loads(out.read_text())
    assert saved["manifest"]["scoring"] == SCORING and len(saved["results"]) == len(df)
    summary = summarise(df)
    assert set(summary.columns) >= {"strategy", "budget", "f1_mean", "f1_std", "runs"}


def test_full_pool_beats_nothing_and_gold_scores_perfectly(data):
    """With a predictor that copies gold from an identical demonstration,
    predicting the pool from the full pool is perfect: the scoring path is right."""
    pool, _ = data

    class Copy(FakePredictor):
        def predict(self, demos, sentences, *, progress=None):
            from allabel_core.predictors.base import Prediction
            by_text = {s.text: s for s in demos.sentences}
            return [Prediction(s.id, tuple(sp for sp in by_text[s.text].spans), 0.0, "copy") for s in sentences]

    res = run_curve(pool, pool[:50], ["full"], [0.1], Copy(), 1, embedder=FakeEmbedder())
    assert res.frame.f1.item() == 1.0


def test_streaming_file_is_valid_after_every_row(tmp_path):
    f = ResultsFile(tmp_path / "r.json", {"a": 1})
    for i in range(3):
        f({"f1": np.float32(0.5), "n": np.int64(i)})
        data = json.loads((tmp_path / "r.json").read_text())
        assert len(data["results"]) == i + 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_errors(data):
    pool, target = data
    with pytest.raises(BudgetError):
        run_curve(pool, target, ["random"], [500], FakePredictor(), 1, embedder=FakeEmbedder())
    with pytest.raises(ConfigError, match="repeat"):
        run_curve(pool, target, ["random", "random"], [0.1], FakePredictor(), 1, embedder=FakeEmbedder())
    with pytest.raises(ConfigError, match="predictor"):
        run_curve(pool, target, ["random"], [0.1], None, 1, embedder=FakeEmbedder())
