"""Tune the offline kNN predictor on the DEV splits (train = demonstrations,
dev = queries); the test splits are never read here.

    python benchmarks/tune_knn.py                 # the grid, every dataset
    python benchmarks/tune_knn.py --datasets matscholar --rounds 4
    python benchmarks/tune_knn.py --grid '[{}, {"k": 32}]'

Prints one line per setting: strict F1 (seqeval IOB2) with precision and
recall; overlap F1 (same type, any overlap: the gap to strict F1 is
boundaries); how well the uncertainty ranks sentences with errors, as the
AUROC of "this sentence has a wrong entity" for the mean and max aggregates,
over all sentences / within length quartiles (longer sentences hold more
errors, so the second number is what the aggregate knows beyond length);
and sentences/s (a new predictor each line; noisy on a shared machine).
Embeddings are cached in ``$ALLABEL_CACHE_DIR`` (default ``.allabel_cache/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ALLABEL_CACHE_DIR", str(ROOT / ".allabel_cache"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from allabel_core.vectors.embed import Embedder  # noqa: E402
from allabel_core.predictors import DemoStore  # noqa: E402
from allabel_core.predictors.gazetteer import Gazetteer, word_spans  # noqa: E402
from allabel_core.predictors.knn import KnnPredictor  # noqa: E402
from allabel_core.scoring import evaluate  # noqa: E402
from allabel_core.data.sentence import Sentence, spans_to_tags  # noqa: E402

DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets"))
DATASETS = ("matscholar", "bc5cdr", "wnut17")


def load(dataset: str, split: str) -> list[Sentence]:
    with open(DATA / dataset / f"{split}.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Sentence.from_tags(r["id"], r["tokens"], r["tags"])[0] for r in rows]


def lenient_f1(gold: list[list[tuple]], pred: list[list[tuple]]) -> float:
    """Overlap F1: a predicted span is right if it overlaps a gold span of the
    same type, a gold span is found if a predicted one of its type overlaps
    it. (seqeval's "lenient" default mode only forgives invalid BIO, which a
    Viterbi decoder never emits, so it would equal strict F1 here.)"""
    def hits(a, b):
        return sum(any(x[2] == y[2] and x[0] < y[1] and y[0] < x[1] for y in bb) for aa, bb in zip(a, b) for x in aa)
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    p = hits(pred, gold) / n_pred if n_pred else 0.0
    r = hits(gold, pred) / n_gold if n_gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _spans(tags_list) -> list[list[tuple]]:
    return [word_spans(t) for t in tags_list]


def score(gold: list[Sentence], preds) -> dict:
    """Strict F1, overlap F1, and the AUROC of each prediction's uncertainty
    for 'the sentence has an error'."""
    g = [s.tags() for s in gold]
    p = [spans_to_tags(s.tokens, pr.spans)[0] for s, pr in zip(gold, preds)]
    strict = evaluate(g, p)
    out = {"f1": strict.f1, "p": strict.precision, "r": strict.recall, "lenient": lenient_f1(_spans(g), _spans(p))}
    wrong = np.array([a != b for a, b in zip(g, p)])
    out["auroc"] = _auroc(np.array([pr.uncertainty for pr in preds]), wrong)
    # Longer sentences hold more errors: say how much length alone tells, and
    # how well each aggregate ranks sentences of similar length (quartiles).
    length = np.array([len(s.tokens) for s in gold], dtype=float)
    out["auroc_length"] = _auroc(length, wrong)
    strata = np.digitize(length, np.quantile(length, [0.25, 0.5, 0.75]))
    for agg in ("mean", "max"):
        unc = np.array([getattr(np, agg)(pr.details.get("word_uncertainty") or [0.0]) for pr in preds])
        out[f"auroc_{agg}"] = _auroc(unc, wrong)
        out[f"auroc_{agg}_by_length"] = float(np.nanmean([_auroc(unc[strata == b], wrong[strata == b]) for b in range(4)]))
    return out


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    if positive.all() or not positive.any():
        return float("nan")
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable").astype(float)
    # Average ranks over ties, so constant scores give 0.5.
    for v in np.unique(scores):
        tie = scores == v
        ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos - 1) / 2) / (n_pos * n_neg))


def gazetteer_baseline(train: list[Sentence], gold: list[Sentence]) -> dict:
    gaz = Gazetteer(train)
    g = [s.tags() for s in gold]
    p = [gaz.longest_match(s.words) for s in gold]
    return {"f1": evaluate(g, p).f1, "lenient": lenient_f1(_spans(g), _spans(p))}


def setup(dataset: str, split: str, embedder: Embedder, *, fraction: float = 1.0, seed: int = 0):
    train = load(dataset, "train")
    if fraction < 1.0:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(train), int(round(fraction * len(train))), replace=False))
        train = [train[i] for i in pick]
    queries = load(dataset, split)
    store = DemoStore.from_sentences(train, embedder)
    return train, store, queries


BASE: dict = {}  # the predictor's defaults; every setting below is relative to them

# The rounds actually run, in order; each round's best became the next one's base.
R1 = dict(word_layers=1, scheme="BIO", k=32, temperature=0.05, threshold=0.6, shape_weight=0.0,
          context=0.0, o_weight=1.0, gazetteer_weight=1.0)  # the first design: BIO votes + gazetteer
R2 = dict(R1, gazetteer_weight=3.0, temperature=0.1, threshold=0.4)
R3 = dict(R2, scheme="BIOES", shape_weight=0.25)
ROUNDS = {  # name: (base, changes to it)
    "1: BIO votes, gazetteer, Viterbi": (R1, [
        {}, {"gazetteer": "none"}, {"gazetteer": "retrieved"}, {"gazetteer_weight": 0.5}, {"gazetteer_weight": 2.0},
        {"gazetteer_weight": 3.0}, {"k": 16}, {"k": 64}, {"neighbours": 3}, {"neighbours": 20},
        {"temperature": 0.1}, {"threshold": 0.4}, {"threshold": 0.7}, {"ignore_case": True},
        {"context": 0.25}, {"context": 0.5}, {"transitions": 0.5}]),
    "2: gazetteer 3, temperature 0.1, threshold 0.4; word shape, O weight": (R2, [
        {}, {"shape_weight": 0.1}, {"shape_weight": 0.25}, {"shape_weight": 0.5}, {"o_weight": 0.5},
        {"shape_weight": 0.25, "o_weight": 0.5}]),
    "3: BIOES": (R3, [
        {}, {"context": 0.25}, {"o_weight": 0.5}, {"o_weight": 0.7}, {"transitions": 0.25}, {"threshold": 0.3},
        {"threshold": 0.3, "context": 0.25}, {"o_weight": 0.5, "context": 0.25}, {"o_weight": 0.7, "context": 0.25},
        {"neighbours": 20}, {"temperature": 0.05}, {"temperature": 0.2}, {"shape_weight": 0.5}, {"k": 16},
        {"k": 64}, {"gazetteer_weight": 1.5}, {"gazetteer_weight": 6.0}, {"uncertainty": "max"}]),
    "4: word vectors over 2 layers, k 64": (R3, [
        {"word_layers": 2}, {"word_layers": 2, "context": 0.25, "threshold": 0.3},
        {"k": 64, "context": 0.25, "threshold": 0.3}, {"k": 64, "context": 0.25, "threshold": 0.3, "o_weight": 0.7},
        {"k": 48, "context": 0.25, "threshold": 0.3, "o_weight": 0.7},
        {"word_layers": 2, "k": 64, "context": 0.25, "threshold": 0.3, "o_weight": 0.5}]),
    "5: the defaults (round 4's best: 2 layers, k 64, context 0.25, threshold 0.3, O weight 0.7)": ({}, [
        {}, {"uncertainty": "max"}, {"threads": 1}]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--rounds", nargs="+", type=int, help="only these rounds (1-5)")
    ap.add_argument("--grid", help="a JSON list of settings (changes to the defaults) instead of the rounds")
    ap.add_argument("--fraction", type=float, default=1.0, help="random share of train as the store")
    args = ap.parse_args()
    if args.grid:
        rounds = {"given": ({}, json.loads(args.grid))}
    else:
        rounds = {name: r for i, (name, r) in enumerate(ROUNDS.items(), 1) if not args.rounds or i in args.rounds}
    embedder = Embedder()
    print("defaults:", json.dumps({k: v for k, v in KnnPredictor(embedder).params().items() if k not in ("predictor", "embedder")}))
    for dataset in args.datasets:
        train, store, dev = setup(dataset, "dev", embedder, fraction=args.fraction)
        queries = [s.with_spans([]) for s in dev]
        base = gazetteer_baseline(train, dev)
        print(f"== {dataset} dev ({len(dev)} queries, store {len(store)}): "
              f"gazetteer baseline F1 {base['f1']:.3f} (overlap {base['lenient']:.3f})", flush=True)
        for name, (base_setting, changes) in rounds.items():
            print(f"-- round {name}; base: {json.dumps(base_setting)}", flush=True)
            for change in changes:
                pred = KnnPredictor(embedder, **{**base_setting, **change})
                t = time.perf_counter()
                preds = pred.predict(store, queries)
                secs = time.perf_counter() - t
                s = score(dev, preds)
                label = ", ".join(f"{k}={v}" for k, v in change.items()) or "base"
                print(f"  F1 {s['f1']:.3f} (P {s['p']:.3f} R {s['r']:.3f})  overlap {s['lenient']:.3f}  "
                      f"AUROC mean {s['auroc_mean']:.3f}/{s['auroc_mean_by_length']:.3f} "
                      f"max {s['auroc_max']:.3f}/{s['auroc_max_by_length']:.3f}  "
                      f"{len(queries) / secs:4.0f} sent/s  {label}", flush=True)


if __name__ == "__main__":
    main()
