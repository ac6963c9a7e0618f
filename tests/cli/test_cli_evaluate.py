"""``allabel evaluate``: strict IOB2 over the tags as written, checked against
seqeval computed here on the raw columns; pairing by id or text; refusals."""

from __future__ import annotations

import json
import random

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from allabel_core.cli import main
from allabel_core.errors import DataFormatError
from allabel_core.formats.aligned import align, read_tagged

TYPES = ["NP", "VP", "PP"]
WORDS = ["Rockwell", "said", "the", "agreement", "calls", "for", "it", "to", "supply", "200", "parts", "."]


def _sequence(rng: random.Random, n: int) -> list[str]:
    tags, k = [], 0
    while k < n:
        if rng.random() < 0.3:
            tags.append("O")
            k += 1
            continue
        t, length = rng.choice(TYPES), rng.randint(1, 3)
        for j in range(min(length, n - k)):
            tags.append(("B-" if j == 0 else "I-") + t)
        k += min(length, n - k)
    return tags


def _corrupt(rng: random.Random, gold: list[str]) -> list[str]:
    """A prediction with the errors seqeval's ground truth has: starts written
    as I-X, wrong types, split and merged chunks."""
    out = []
    for tag in gold:
        r = rng.random()
        if tag.startswith("B-") and r < 0.3:
            out.append("I-" + tag[2:])  # lenient counts it, strict does not
        elif tag != "O" and r < 0.4:
            out.append(tag[:2] + rng.choice(TYPES))
        elif r < 0.45:
            out.append("O")
        elif tag == "O" and r < 0.5:
            out.append("B-" + rng.choice(TYPES))
        else:
            out.append(tag)
    return out


@pytest.fixture()
def pair(tmp_path):
    """conlleval-style files: ``token POS gold pred`` (one file), and the same
    split in two (``token POS gold``, ``token POS pred``)."""
    rng = random.Random(7)
    sentences = []
    for _ in range(60):
        n = rng.randint(3, 14)
        words = [rng.choice(WORDS) for _ in range(n)]
        gold = _sequence(rng, n)
        sentences.append((words, gold, _corrupt(rng, gold)))
    both = "\n".join("".join(f"{w} POS {g} {p}\n" for w, g, p in zip(*s)) for s in sentences)
    gold = "\n".join("".join(f"{w} POS {g}\n" for w, g, _ in zip(*s)) for s in sentences)
    pred = "\n".join("".join(f"{w} POS {p}\n" for w, _, p in zip(*s)) for s in sentences)
    paths = {}
    for name, text in (("ground_truth.txt", both), ("gold.txt", gold), ("pred.txt", pred)):
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    return paths


def _seqeval(path, lenient=False):
    """seqeval on the raw columns of the one-file shape, parsed here."""
    gold, pred, g, p = [], [], [], []
    for line in path.read_text().split("\n") + [""]:
        if not line.strip():
            if g:
                gold.append(g)
                pred.append(p)
            g, p = [], []
            continue
        cols = line.split(" ")
        g.append(cols[2])
        p.append(cols[3])
    kwargs = {} if lenient else {"mode": "strict", "scheme": IOB2}
    return classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)


def _run(capsys, *argv):
    code = main(["evaluate", *argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out), out.err


@pytest.mark.parametrize("lenient", [False, True])
def test_one_file_with_two_tag_columns_matches_seqeval(pair, capsys, lenient):
    path = str(pair["ground_truth.txt"])
    extra = ["--lenient"] if lenient else []
    got, _ = _run(capsys, "--gold", path, "--pred", path, "--tag-column", "3", "--pred-tag-column", "4", *extra)
    want = _seqeval(pair["ground_truth.txt"], lenient)
    assert got["f1"] == pytest.approx(want["micro avg"]["f1-score"], abs=1e-12)
    assert got["precision"] == pytest.approx(want["micro avg"]["precision"], abs=1e-12)
    assert got["recall"] == pytest.approx(want["micro avg"]["recall"], abs=1e-12)
    for t in TYPES:
        assert got["per_type"][t]["f1"] == pytest.approx(want[t]["f1-score"], abs=1e-12)
        assert got["per_type"][t]["support"] == want[t]["support"]


def test_file_pair_gives_seqeval_strict_and_is_not_lenient(pair, capsys):
    strict, err = _run(capsys, "--gold", str(pair["gold.txt"]), "--pred", str(pair["pred.txt"]))
    lenient, _ = _run(capsys, "--gold", str(pair["gold.txt"]), "--pred", str(pair["pred.txt"]), "--lenient")
    want = _seqeval(pair["ground_truth.txt"])
    assert strict["f1"] == pytest.approx(want["micro avg"]["f1-score"], abs=1e-12)
    assert strict["paired_by"] == "id" and strict["sentences"] == 60
    # the I-X starts are not repaired into hits: strict is lower than lenient
    assert strict["f1"] < lenient["f1"] - 0.02
    assert "entities start with I-X" in err and "scored as written" in err


def test_predictions_in_a_span_format_pair_by_text(tmp_path, capsys):
    gold = tmp_path / "gold.conll"
    gold.write_text("LiFePO4\tB-MAT\n,\tO\na\tO\ncathode\tB-APL\n\nTiO2\tB-MAT\nfilms\tO\n")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        json.dumps({"id": "p2", "text": "TiO2 films", "spans": [{"start": 0, "end": 4, "label": "MAT"}]}) + "\n"
        + json.dumps({"id": "p1", "text": "LiFePO4, a cathode", "spans": [
            {"start": 0, "end": 7, "label": "MAT", "status": "suggested"},
            {"start": 11, "end": 18, "label": "MAT", "status": "suggested"}]}) + "\n"
    )
    got, _ = _run(capsys, "--gold", str(gold), "--pred", str(pred))
    assert got["paired_by"] == "text"
    assert (got["precision"], got["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_misaligned_files_are_refused_naming_the_first_mismatch(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "a", "tokens": ["TiO2", "films"], "tags": ["B-MAT", "O"]}\n'
                    '{"id": "b", "tokens": ["LiFePO4"], "tags": ["B-MAT"]}\n')
    other_text = tmp_path / "pred.jsonl"
    other_text.write_text('{"id": "a", "tokens": ["TiO2", "films"], "tags": ["B-MAT", "O"]}\n'
                          '{"id": "b", "tokens": ["NbO2"], "tags": ["B-MAT"]}\n')
    code = main(["evaluate", "--gold", str(gold), "--pred", str(other_text)])
    err = capsys.readouterr().err
    assert code == 2 and "line 2: sentence 'b' differs: gold (line 2) 'LiFePO4', predicted (line 2) 'NbO2'" in err
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"id": "x", "tokens": ["TiO2", "films"], "tags": ["B-MAT", "O"]}\n')
    with pytest.raises(DataFormatError, match=r"gold sentence 'b' \(line 2, 'LiFePO4'\) has no predicted sentence"):
        align(read_tagged(gold), read_tagged(missing))
    tokens = tmp_path / "tokens.jsonl"
    tokens.write_text('{"id": "a", "tokens": ["TiO2films"], "tags": ["B-MAT"]}\n'
                      '{"id": "b", "tokens": ["LiFePO4"], "tags": ["B-MAT"]}\n')
    with pytest.raises(DataFormatError, match=r"sentence 'a': the tokens differ .* at token 1 \('TiO2films' here"):
        align(read_tagged(gold), read_tagged(tokens))


def test_bioes_predictions_are_refused_in_strict_mode(tmp_path, capsys):
    gold = tmp_path / "g.conll"
    gold.write_text("Li\tB-MAT\nFePO4\tI-MAT\n")
    pred = tmp_path / "p.conll"
    pred.write_text("Li\tB-MAT\nFePO4\tE-MAT\n")
    assert main(["evaluate", "--gold", str(gold), "--pred", str(pred)]) == 2
    assert "the predicted tags use BIOES ('E-MAT')" in capsys.readouterr().err
    assert main(["evaluate", "--gold", str(gold), "--pred", str(pred), "--lenient"]) == 0


def test_iob1_gold_is_scored_as_its_entities(tmp_path, capsys):
    gold = tmp_path / "g.conll"
    gold.write_text("LiFePO4 NNP I-MAT\nand CC O\nTiO2 NNP I-MAT\n")
    pred = tmp_path / "p.conll"
    pred.write_text("LiFePO4 NNP B-MAT\nand CC O\nTiO2 NNP B-MAT\n")
    got, err = _run(capsys, "--gold", str(gold), "--pred", str(pred))
    assert got["f1"] == 1.0 and "gold tags are IOB1" in err and "scored as written" not in err


def test_select_prints_each_reader_warning_on_its_own_line(tmp_path, capsys, monkeypatch):
    """A CoNLL train.txt is read as CoNLL (not one sentence per token line),
    and the CLI says so: one counted line per warning."""
    from fakes import HashEmbedder

    import allabel_core.vectors.embed as embed

    monkeypatch.setattr(embed, "Embedder", lambda *a, **k: HashEmbedder())
    train = tmp_path / "train.txt"
    train.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "of IN B-PP O\nLiFePO4 NNP B-NP I-MAT\n\nTiO2 NNP B-NP I-MAT\nfilms NNS I-NP O\n\n"
        "Nb NNP B-NP I-MAT\n"
    )
    out = tmp_path / "picks.csv"
    assert main(["select", "--pool", str(train), "--budget", "2", "--strategy", "random", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"allabel select: 2 warnings reading {train}:" in err
    lines = [line for line in err.splitlines() if line.startswith("  warning: ")]
    assert len(lines) == 2 and any("read as CoNLL" in line for line in lines)
    assert any("IOB1" in line for line in lines)
    picked = out.read_text().splitlines()[1:]
    assert len(picked) == 2 and all(row.split(",")[1] in ("line-3", "line-6", "line-9") for row in picked)


def test_span_edges_inside_the_other_files_tokens_are_widened_and_said(tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"id": "a", "text": "LiFePO4, a cathode",
                                "spans": [{"start": 0, "end": 7, "label": "MAT"}]}) + "\n")
    pred = tmp_path / "p.conll"
    pred.write_text("LiFePO4,\tB-MAT\na\tO\ncathode\tO\n")
    aligned = align(read_tagged(gold), read_tagged(pred))
    assert aligned.gold == aligned.pred == [["B-MAT", "O", "O"]] and aligned.paired_by == "text"
    assert any("1 gold spans start or end inside a predicted token" in w for w in aligned.warnings)
