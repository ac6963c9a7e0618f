"""Demonstration entity coverage@k: a hand-counted case, the curve column,
and `allabel coverage`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from allabel_core.cli import main
from allabel_core.data.corpus import Corpus
from allabel_core.experiment.curve import run_curve, summarise
from allabel_core.retrieval.coverage import coverage_of, demonstration_coverage, entity_set
from allabel_core.data.sentence import Sentence
from fakes import FakeEmbedder, FakePredictor


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))


def tagged(sid, pairs):
    """A sentence from (word, tag) pairs."""
    words = [w for w, _ in pairs]
    return Sentence.from_tags(sid, words, [t for _, t in pairs])[0]


DEMOS = [
    tagged("d0", [("LiFePO4", "B-MAT"), ("cathode", "B-APL"), ("cycled", "O")]),
    tagged("d1", [("TiO2", "B-MAT"), ("films", "O")]),
    tagged("d2", [("nothing", "O"), ("here", "O")]),
]
TARGETS = [
    tagged("t0", [("LiFePO4", "B-MAT"), ("and", "O"), ("TiO2", "B-MAT"), ("cathode", "B-APL"), ("cathode", "B-APL")]),
    tagged("t1", [("NaCl", "B-MAT"), ("crystals", "O")]),
    tagged("t2", [("no", "O"), ("entities", "O")]),
    tagged("t3", [("Co", "B-MAT"), ("films", "O")]),  # CO is not Co, Co is not TiO2
]


def test_hand_counted_coverage():
    target = [entity_set(s) for s in TARGETS]
    demos = [entity_set(s) for s in DEMOS]
    assert target[0] == {("LiFePO4", "MAT"), ("TiO2", "MAT"), ("cathode", "APL")}  # distinct pairs
    # t0 retrieves d1 (TiO2: 1 of 3), t1 retrieves d0 (0 of 1), t2 has no entities (not counted),
    # t3 retrieves d0 and d1 (0 of 1).
    retrieved = np.array([[1, -1], [0, -1], [2, -1], [0, 1]])
    macro, micro, sentences, entities, shares = coverage_of(target, demos, retrieved)
    assert sentences == 3 and entities == 5
    assert macro == pytest.approx((1 / 3 + 0 + 0) / 3) and micro == pytest.approx(1 / 5)
    assert np.isnan(shares[2]) and shares[0] == pytest.approx(1 / 3)
    # With every demonstration retrieved: t0 3 of 3, t1 0, t3 0.
    everything = np.array([[0, 1, 2]] * 4)
    macro, micro, *_ = coverage_of(target, demos, everything)
    assert macro == pytest.approx(1 / 3) and micro == pytest.approx(3 / 5)


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_demonstration_coverage_with_every_retriever(retriever):
    res = demonstration_coverage(DEMOS, TARGETS, k=3, retriever=retriever, embedder=FakeEmbedder())
    assert res.macro == pytest.approx(1 / 3) and res.micro == pytest.approx(3 / 5)
    assert res.params["retriever"] == retriever and res.k == 3
    # One BM25 demonstration: t0 shares LiFePO4 and cathode with d0 (2 of 3), t3 "films" with d1 (0 of 1).
    if retriever == "bm25":
        one = demonstration_coverage(DEMOS, TARGETS, k=1, retriever="bm25")
        assert one.per_sentence[0] == pytest.approx(2 / 3) and one.per_sentence[3] == 0


def test_a_target_never_retrieves_itself():
    same = demonstration_coverage(TARGETS, TARGETS, k=1, retriever="bm25")
    assert same.macro < 1.0  # with itself as demonstration every share would be 1
    empty = demonstration_coverage([], TARGETS, k=5, retriever="bm25")
    assert empty.macro == 0.0 and empty.sentences == 3


def test_curve_reports_coverage_beside_f1(tmp_path):
    rng = np.random.default_rng(0)
    words = ["LiFePO4", "TiO2", "NaCl", "cathode", "anode", "films", "grown", "on", "glass", "heated"]
    def make(prefix, n):
        out = []
        for i in range(n):
            ws = list(rng.choice(words, 5))
            out.append(Sentence.from_tags(f"{prefix}{i}", ws, ["B-MAT" if w[0].isupper() else "O" for w in ws])[0])
        return Corpus(out)
    pool, target = make("p", 60), make("t", 15)
    res = run_curve(pool, target, ["random", "similarity[retriever=bm25]", "full"], [0.1], FakePredictor(), 2,
                    embedder=FakeEmbedder(), coverage_k=3)
    df = res.frame
    assert df["coverage"].between(0, 1).all() and df["coverage_micro"].between(0, 1).all()
    full = df.loc[df.strategy == "full", "coverage"].item()
    assert full == pytest.approx(demonstration_coverage(list(pool), list(target), k=3, retriever="dense",
                                                        embedder=FakeEmbedder()).macro)
    summary = summarise(df)
    assert {"cov_mean", "cov_std"} <= set(summary.columns)
    m = res.manifest["retrieval"]
    assert m["coverage"] == {"k": 3, "retriever": "dense", "similarity": "cosine of unit sentence vectors"}
    assert m["coverage_lists"]["similarity[retriever=bm25]"]["retriever"] == "bm25"


def write_jsonl(path, sentences):
    path.write_text("".join(json.dumps({"id": s.id, "tokens": list(s.words), "tags": s.tags()}) + "\n" for s in sentences))


def test_coverage_command(tmp_path, capsys):
    write_jsonl(tmp_path / "pool.jsonl", DEMOS)
    write_jsonl(tmp_path / "target.jsonl", TARGETS)
    (tmp_path / "sel.txt").write_text("d0\nd1\nd2\n")
    out = tmp_path / "cov.json"
    assert main(["coverage", "--pool", str(tmp_path / "pool.jsonl"), "--target", str(tmp_path / "target.jsonl"),
                 "--selected", str(tmp_path / "sel.txt"), "--k", "3", "--retriever", "bm25", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "coverage@3 (bm25): 0.3333" in printed and "pooled 0.6000 of 5 entities" in printed
    saved = json.loads(out.read_text())
    assert saved["coverage"] == pytest.approx(1 / 3) and saved["selected"] == 3 and saved["retriever"] == "bm25"
    (tmp_path / "bad.txt").write_text("d0\nnope\n")
    assert main(["coverage", "--pool", str(tmp_path / "pool.jsonl"), "--target", str(tmp_path / "target.jsonl"),
                 "--selected", str(tmp_path / "bad.txt"), "--retriever", "bm25"]) == 2
    assert "1 ids not in the pool, e.g. 'nope'" in capsys.readouterr().err


def test_curve_command_names_the_retriever_everywhere(tmp_path, capsys):
    pool = [tagged(f"p{i}", [(w, "B-MAT" if w[0].isupper() else "O") for w in ws]) for i, ws in enumerate([
        ["LiFePO4", "cathode"], ["TiO2", "films"], ["NaCl", "crystals"], ["LiFePO4", "coatings"], ["TiO2", "powder"],
        ["ZnO", "wires"], ["the", "cathode"], ["Fe2O3", "films"], ["ZnO", "films"], ["NaCl", "solution"]])]
    write_jsonl(tmp_path / "pool.jsonl", pool)
    write_jsonl(tmp_path / "target.jsonl", TARGETS)
    out = tmp_path / "curve.json"
    assert main(["curve", "--pool", str(tmp_path / "pool.jsonl"), "--target", str(tmp_path / "target.jsonl"),
                 "--strategies", "random,similarity,full", "--budgets", "3", "--seeds", "1", "--retriever", "bm25",
                 "--coverage-k", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "demonstrations retrieved with bm25" in printed and "coverage@2 (bm25)" in printed
    saved = json.loads(out.read_text())
    m = saved["manifest"]
    assert m["predictor"]["params"]["retriever"] == "bm25" and m["retrieval"]["coverage"]["retriever"] == "bm25"
    assert m["strategies"]["similarity"]["params"]["retriever"] == "bm25"
    assert m["retrieval"]["coverage_lists"]["similarity"]["retriever"] == "bm25"
    assert all(0 <= r["coverage"] <= 1 for r in saved["results"])
