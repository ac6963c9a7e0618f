"""`allabel select` and `allabel curve` end to end."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from allabel_core.cli import main
from fakes import random_vectors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    # One embedding cache for the module, never the user's.
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "allabel-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def files(shared_datasets, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    src = shared_datasets / "matscholar"
    for name, split, n in (("pool.jsonl", "train", 80), ("target.jsonl", "dev", 20)):
        lines = open(src / f"{split}.jsonl", encoding="utf-8").read().splitlines()[:n]
        (d / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    np.save(d / "pool.npy", 3.0 * random_vectors(200, 16, 0))  # not unit: normalised on load
    (d / "plain.txt").write_text("One sentence here .\nAnother one there .\n", encoding="utf-8")
    return d


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0], err
    return err[0]


def test_select_npy_to_csv(files, tmp_path, capsys):
    out = tmp_path / "picks.csv"
    assert main(["select", "--pool", str(files / "pool.npy"), "--budget", "0.05", "--strategy", "coreset", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 and [r["rank"] for r in rows] == [str(i) for i in range(1, 11)]
    assert set(rows[0]) == {"rank", "id", "index", "stage", "score", "nearest_id", "nearest_similarity", "note"}
    assert rows[0]["stage"] == "diversity" and "seed" in rows[0]["note"] and rows[0]["id"] == rows[0]["index"]
    assert rows[1]["nearest_id"] == rows[0]["id"]
    assert "selected 10 of 200" in capsys.readouterr().err


def test_select_npy_allabel_without_uncertainty_and_resume(files, tmp_path):
    out = tmp_path / "a.jsonl"
    assert main(["select", "--pool", str(files / "pool.npy"), "--budget", "20", "--strategy", "allabel",
                 "--split", "1:4:0", "--min-stage", "0", "--seed", "3", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["stage"] for r in rows] == ["diversity"] * 4 + ["similarity"] * 16
    more = tmp_path / "b.jsonl"
    assert main(["select", "--pool", str(files / "pool.npy"), "--budget", "5", "--strategy", "coreset",
                 "--selected", str(out), "--out", str(more)]) == 0
    again = [json.loads(x) for x in more.read_text().splitlines()]
    assert not {r["id"] for r in again} & {r["id"] for r in rows} and "seed" not in again[0]["note"]


def test_select_index_variant(files, tmp_path):
    # The stage-2 index is a strategy option: exact below 100,000 rows by
    # default (auto), IVF when asked, and the note says so.
    runs = {}
    for spec in ("similarity", "similarity[index=flat]", "similarity[index=ivf]"):
        out = tmp_path / "o.jsonl"
        assert main(["select", "--pool", str(files / "pool.npy"), "--budget", "8", "--strategy", spec, "--out", str(out)]) == 0
        runs[spec] = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in runs["similarity"]] == [r["id"] for r in runs["similarity[index=flat]"]]
    assert not any("approximate" in r["note"] for r in runs["similarity"])
    assert all("approximate IVF lists" in r["note"] for r in runs["similarity[index=ivf]"] if r["score"] > 0)


@pytest.mark.parametrize("argv, msg", [
    (["--strategy", "similarity[index=hnsw]"], "unknown index 'hnsw'; choose one of auto, flat, ivf"),
    (["--strategy", "allabel"], "embedding matrix"),
    (["--strategy", "uncertainty"], "embedding matrix"),
    (["--budget", "500"], "larger than the pool"),
    (["--budget", "1.5"], "neither a fraction"),
    (["--strategy", "coreset", "--split", "1:1:1"], "does not apply"),
    (["--strategy", "nope"], "unknown strategy"),
    (["--out", "picks.xlsx"], ".csv or .jsonl"),
])
def test_select_errors_are_one_line(files, tmp_path, capsys, argv, msg):
    args = {"--pool": str(files / "pool.npy"), "--budget": "0.1", "--strategy": "random", "--out": str(tmp_path / "o.csv")}
    it = iter(argv)
    for k in it:
        args[k] = next(it)
    assert main(["select"] + [x for kv in args.items() for x in kv]) == 2
    assert msg in one_error_line(capsys)


def test_select_bad_files(files, tmp_path, capsys):
    assert main(["select", "--pool", str(tmp_path / "missing.jsonl"), "--budget", "1", "--out", str(tmp_path / "o.csv")]) == 2
    one_error_line(capsys)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([1.0, 2.0]))
    assert main(["select", "--pool", str(bad), "--budget", "1", "--out", str(tmp_path / "o.csv")]) == 2
    assert "2-D" in one_error_line(capsys)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "tokens": ["x"], "tags": ["O"]}\n{"id": "b", "tokens": ["y"]\n')
    assert main(["select", "--pool", str(broken), "--budget", "1", "--out", str(tmp_path / "o.csv")]) == 2
    assert "line 2" in one_error_line(capsys)


def test_select_corpus_allabel_via_subprocess(files, tmp_path):
    out = tmp_path / "picks.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "allabel_core", "select", "--pool", str(files / "pool.jsonl"), "--budget", "0.25",
         "--strategy", "allabel", "--min-stage", "0", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["stage"] for r in rows] == ["diversity"] * 4 + ["similarity"] * 12 + ["uncertainty"] * 4
    assert all(r["id"].startswith("matscholar-train-") for r in rows)
    assert "shortlist of 20" in rows[-1]["note"]


def test_curve_end_to_end(files, tmp_path, capsys):
    out = tmp_path / "curve.json"
    code = main(["curve", "--pool", str(files / "pool.jsonl"), "--target", str(files / "target.jsonl"),
                 "--strategies", "random,allabel[split=1:4:0],allabel,full", "--budgets", "0.1,20",
                 "--seeds", "2", "--predictor", "knn", "--out", str(out)])
    assert code == 0
    cap = capsys.readouterr()
    assert "allabel[split=1:4:0]" in cap.out and "±" in cap.out and "full" in cap.out
    assert "[1/" in cap.err and "wrote" in cap.err
    data = json.loads(out.read_text())
    assert data["manifest"]["predictor"]["name"] == "offline kNN predictor"
    assert data["manifest"]["scoring"].startswith("entity-level") and len(data["results"]) == 1 + 2 * 2 * 3


def test_curve_errors(files, tmp_path, capsys):
    base = ["curve", "--pool", str(files / "pool.jsonl"), "--target", str(files / "plain.txt"), "--out", str(tmp_path / "c.json")]
    assert main(base) == 2
    assert "no gold labels" in one_error_line(capsys)
    base[4] = str(files / "target.jsonl")
    assert main(base + ["--budgets", "0.1,lots"]) == 2
    assert "not a number" in one_error_line(capsys)
    assert main(base + ["--budgets", "500"]) == 2
    assert "larger than the pool" in one_error_line(capsys)
    assert main(base[:-1] + [str(tmp_path / "c.csv")]) == 2
    assert ".json" in one_error_line(capsys)


def test_select_embeds_through_an_openai_compatible_server(tmp_path, fault_server, capsys):
    """``--embedder openai``: the pool goes to /v1/embeddings in batches; the
    picks are the core-set of the server's (normalised) vectors."""
    import numpy as np

    from allabel_core.cli import main
    from allabel_core.selection import select_coreset

    texts = [f"Sample sentence {i} on TiO2 films." for i in range(30)]
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(texts) + "\n")
    out = tmp_path / "picks.csv"
    argv = ["select", "--pool", str(pool), "--budget", "5", "--strategy", "coreset", "--out", str(out),
            "--embedder", "openai", "--embed-base-url", fault_server.url, "--embed-model", "emb-m",
            "--embed-batch-size", "7"]
    assert main(argv) == 0, capsys.readouterr().err
    reqs = fault_server.embedding_requests()
    assert sorted(len(r["body"]["input"]) for r in reqs[1:]) == [2, 7, 7, 7, 7]  # concurrent: any arrival order
    vecs = np.array([fault_server.vector_for(t) for t in texts], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    expect = [int(i) for i in np.asarray(select_coreset(vecs, [], 5, rng=np.random.default_rng(0)))]
    import csv

    rows = list(csv.DictReader(out.open()))
    assert [int(r["index"]) for r in rows] == expect
    assert main(argv) == 0  # cached: only the probe is sent again
    assert len(fault_server.embedding_requests()) == len(reqs) + 1
    assert main(["select", "--pool", str(pool), "--budget", "5", "--out", str(out), "--embed-model", "x"]) == 2
    assert "--embedder openai" in capsys.readouterr().err
