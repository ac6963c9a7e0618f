"""``allabel predict`` end to end against the fault-injecting server."""

from __future__ import annotations

import pytest
from fakes import QUERIES, gold_answer

from allabel_core.cli import main
from allabel_core.formats import read_corpus


def test_predict_openai_writes_predictions_and_scores(files, fault_server, capsys, monkeypatch):
    labeled, data, out = files
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-SECRET-123456")
    fault_server.default_answer = gold_answer
    args = [
        "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--out-format", "doccano",
        "--predictor", "openai", "--base-url", fault_server.url, "--model", "fault-model", "--k", "2",
        "--concurrency", "2", "--prices", "0.15,0.60",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"LLM: fault-model at {fault_server.url}" in err
    assert "estimate: 3 requests" in err and "F1 1.000" in err and "LLM: 3 calls" in err
    assert "SECRET" not in err
    got = read_corpus(out, "doccano")
    assert [[(sp.text, sp.label) for sp in s.spans] for s in got] == [
        [("ZnO", "MAT"), ("sol-gel", "SMT")],
        [("capacity", "PRO"), ("LiFePO4", "MAT")],
        [("TiO2", "MAT"), ("band gap", "PRO")],
    ]
    # The same command again: everything from the cache.
    n = len(fault_server.chat_requests())
    assert main(args) == 0
    assert len(fault_server.chat_requests()) == n
    assert "3 cache hits" in capsys.readouterr().err


def test_predict_unreachable_server_is_one_clear_line(files, capsys):
    labeled, data, out = files
    code = main([
        "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out),
        "--predictor", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
    ])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "allabel predict: error: could not reach http://127.0.0.1:9/v1: is the server running?"
    assert not out.exists()


def test_predict_reports_failed_sentences(files, fault_server, capsys):
    labeled, data, out = files
    fault_server.default_answer = gold_answer
    fault_server.on(QUERIES[1][1], *[("status", 500, {}, {"error": {"message": "boom"}})] * 3)
    code = main([
        "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--out-format", "spacy",
        "--predictor", "openai", "--base-url", fault_server.url, "--model", "fault-model", "--max-retries", "0",
    ])
    assert code == 1
    err = capsys.readouterr().err
    assert "1 of 3 sentences failed" in err and "run the same command again" in err
    assert out.exists()


def test_predict_knn_needs_no_server(files, capsys):
    pytest.importorskip("allabel_core.predictors.knn", reason="the kNN predictor module is not in this checkout")
    labeled, data, out = files
    assert main(["predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--predictor", "knn"]) == 0
    err = capsys.readouterr().err
    assert "offline kNN predictor" in err and "LLM:" not in err
    assert len(read_corpus(out, "spacy")) == len(QUERIES)


def test_predict_settles_the_output_format_before_predicting(tmp_path):
    from allabel_core.cli import main

    data = tmp_path / "new.txt"
    data.write_text("TiO2 films were annealed.\n", encoding="utf-8")
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"id": "a", "text": "TiO2 powder", "spans": [{"start": 0, "end": 4, "label": "MAT"}]}\n', encoding="utf-8")
    # An extension no writer knows fails at once, before any prediction.
    assert main(["predict", "--labeled", str(labeled), "--data", str(data), "--out", str(tmp_path / "out.xyz")]) == 2
    # Plain text in, .jsonl out: span-based JSONL keeps the predicted offsets.
    from allabel_core.cli.predict_cmd import _out_format

    assert _out_format("out.jsonl", None, "text") == "spacy"
    assert _out_format("out.jsonl", None, "doccano") == "doccano"
    assert _out_format("out.jsonl", None, "jsonl-text") == "spacy"  # unlabelled JSONL would drop every span
    assert _out_format("out.conll", None, "text") == "conll"
