"""The issue's "done when", as a test: the sample pool imported as plain
text, its first 10 % imported as labels, predicted with ``allabel project
predict`` and exported with ``--include all``: the entity table's predicted
part scores (strict IOB2, against the sample's gold) exactly the F1 that
``allabel predict`` gets with the same labels. Every step through the
command line, as a batch job would run it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from allabel_core.cli import main
from allabel_core.formats import read_corpus, write_corpus
from allabel_core.scoring import evaluate
from allabel_core.data.sentence import Span, spans_to_tags

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def cli(*argv) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(list(argv)) == 0, err.getvalue()
    return err.getvalue()


def test_exported_predictions_score_as_allabel_predict(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    gold = list(read_corpus(SAMPLE / "pool.jsonl"))
    n = round(0.1 * len(gold))
    (tmp_path / "pool.txt").write_text("".join(s.text + "\n" for s in gold), encoding="utf-8")
    write_corpus(gold[:n], tmp_path / "labels.jsonl", "jsonl")
    write_corpus(gold[n:], tmp_path / "rest.jsonl", "jsonl")
    where = ["--projects-dir", str(tmp_path / "projects")]

    cli("project", "new", "sample-text", "--data", str(tmp_path / "pool.txt"), "--schema", str(SAMPLE / "schema.json"),
        *where)
    cli("project", "import", "sample-text", "--labels", str(tmp_path / "labels.jsonl"), *where)
    said = cli("project", "predict", "sample-text", *where)
    assert f"predicted {len(gold) - n} of {len(gold) - n}" in said
    cli("project", "export", "sample-text", "--out", str(tmp_path / "all.csv"), "--include", "all", *where)

    table = pd.read_csv(tmp_path / "all.csv", keep_default_na=False, dtype={"sentence_id": str})
    by_text = {s.text: s for s in gold}
    humans = table[table["source"] == "human"]
    assert set(humans["sentence"]) <= {s.text for s in gold[:n]}
    spans: dict[str, list[Span]] = {s.text: [] for s in gold[n:]}
    for r in table[table["source"] != "human"].itertuples():
        spans[r.sentence].append(Span(int(r.start), int(r.end), r.label, r.text, "suggested"))
    rest = gold[n:]
    ours = evaluate([s.tags() for s in rest], [spans_to_tags(by_text[s.text].tokens, spans[s.text])[0] for s in rest])

    said = cli("predict", "--labeled", str(tmp_path / "labels.jsonl"), "--data", str(tmp_path / "rest.jsonl"),
               "--out", str(tmp_path / "predicted.jsonl"))
    theirs = float(re.search(r"F1 ([\d.]+)", said).group(1))
    assert ours.support > 1000 and ours.f1 > 0.4
    assert round(ours.f1, 3) == theirs
