"""``allabel project predict`` and ``allabel project export``: the rest of a
project predicted from the command line, and every entity written out; bad
input fails with one line and writes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from allabel_core.cli import main
from allabel_core.data.corpus import Corpus
from allabel_core.views.entities import ENTITY_COLUMNS
from allabel_core.formats import read_corpus
from allabel_core.project import Project
from allabel_core.data.sentence import Sentence

SENTENCES = [
    ("s1", "TiO2 nanoparticles were prepared by sol-gel synthesis.", [("TiO2", "MAT")]),
    ("s2", "ZnO films were annealed at 500 C.", [("ZnO", "MAT")]),
    ("s3", "TiO2 films were annealed at 400 C.", []),
    ("s4", "ZnO nanorods grew on glass.", []),
    ("s5", "The capacity of LiFePO4 fades.", []),
]


@pytest.fixture
def folder(tmp_path):
    rows = []
    for sid, text, ents in SENTENCES:
        rows.append(Sentence.from_text(sid, text, [(text.index(e), text.index(e) + len(e), lab) for e, lab in ents]))
    p = Project.create(tmp_path / "films.allabel", Corpus([r.with_spans([]) for r in rows]), schema=["MAT"], name="films")
    for r in rows[:2]:
        for sp in r.spans:
            p.labels.add_span(r.id, sp.start, sp.end, sp.label)
        p.labels.confirm(r.id)
    p.close()
    return tmp_path


def test_predict_then_export_the_entity_table(folder, capsys):
    assert main(["project", "predict", "films", "--projects-dir", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "predicted 3 of 3 sentences not confirmed by a person" in err and "3 of 3" in err
    with Project.open(folder / "films.allabel") as p:
        stored = p.records.rest_predictions()
        assert set(stored) == {"s3", "s4", "s5"}
    out = folder / "entities.csv"
    assert main(["project", "export", "films", "--out", str(out), "--projects-dir", str(folder)]) == 0
    t = pd.read_csv(out, keep_default_na=False, dtype={"sentence_id": str})
    assert list(t.columns) == list(ENTITY_COLUMNS)
    human = t[t["source"] == "human"]
    assert sorted(zip(human["sentence_id"], human["text"])) == [("s1", "TiO2"), ("s2", "ZnO")]
    model = t[t["source"] != "human"]
    want = sorted((sid, sp.text, sp.label) for sid, r in stored.items() for sp in r.prediction.spans)
    assert sorted(zip(model["sentence_id"], model["text"], model["label"])) == want
    assert set(model["source"]) <= {"offline kNN predictor"}
    assert "wrote" in capsys.readouterr().err

    again = main(["project", "predict", "films", "--projects-dir", str(folder)])
    assert again == 0 and "predicted 0 of 3" in capsys.readouterr().err

    conll = folder / "predicted.conll"
    assert main(["project", "export", "films", "--out", str(conll), "--include", "predicted",
                 "--projects-dir", str(folder)]) == 0
    back = read_corpus(conll)  # CoNLL keeps no ids: the three predicted sentences, in pool order
    with Project.open(folder / "films.allabel") as p:
        assert [s.words for s in back] == [p.sentence(sid).words for sid in ("s3", "s4", "s5")]
    assert "CoNLL cannot say" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["project", "export", "nope", "--out", "x.csv"], "no project called 'nope'"),
    (["project", "export", "films", "--out", "x.pdf"], "cannot tell the format"),
    (["project", "export", "films", "--out", "x.txt"], "plain text holds no entities"),
    (["project", "export", "films", "--out", "x.csv", "--format", "xml"], "unknown export format"),
    (["project", "predict", "nope"], "no project called 'nope'"),
])
def test_bad_input_is_one_line_and_writes_nothing(folder, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(folder)
    assert main([*argv, "--projects-dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("allabel project: error:")
    assert not list(folder.glob("x.*"))


def test_predict_without_confirmed_sentences_says_so(tmp_path, capsys):
    Project.create(tmp_path / "empty.allabel", Corpus([Sentence.from_text("a", "TiO2 films.")]), schema=["MAT"]).close()
    assert main(["project", "predict", "empty", "--projects-dir", str(tmp_path)]) == 2
    assert "confirm a few labels first" in capsys.readouterr().err
