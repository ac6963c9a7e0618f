"""Every entity out: the entity table and summary (views.entities), and a project's export of
confirmed labels and predicted entities, each span marked with its source
and score."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from fakes import DEMOS, LABELS, QUERIES, HashEmbedder, make_sentence
from test_predict_rest import EXTRA, confirm, llm

from allabel_core.project import export as X
from allabel_core.views import entities as E
from allabel_core.data.corpus import Corpus
from allabel_core.errors import ConfigError
from allabel_core.formats import read_corpus
from allabel_core.project import Project
from allabel_core.project.rest import predict_rest
from allabel_core.data.sentence import Sentence, Span


def sent(sid, text, spans):
    return Sentence.from_text(sid, text, spans)


def test_entity_table_has_one_row_per_span_with_source_and_score():
    a = sent("a", "TiO2 and ZnO films.", [Span(0, 4, "MAT", "TiO2", "confirmed")])
    b = sent("b", "ZnO rods grew.", [Span(0, 3, "MAT", "ZnO", "suggested", "fake-llm", 0.8)])
    c = sent("c", "Nothing here.", [])
    t = E.entity_table([a, b, c])
    assert list(t.columns) == list(E.ENTITY_COLUMNS)
    assert t.values.tolist()[0][:7] == ["a", "TiO2 and ZnO films.", 0, 4, "TiO2", "MAT", "human"]
    assert pd.isna(t.loc[0, "score"]) and t.loc[1, "score"] == 0.8 and t.loc[1, "source"] == "fake-llm"
    assert len(t) == 2 and t["start"].dtype == "int64"
    assert len(E.entity_table([a, b], statuses=("confirmed",))) == 1
    assert list(E.entity_table([]).columns) == list(E.ENTITY_COLUMNS)


def test_with_spans_keeps_source_and_score():
    s = sent("a", "TiO2 films.", []).with_spans([Span(0, 4, "MAT", "TiO2", "suggested", "m", 0.5)])
    assert (s.spans[0].source, s.spans[0].score) == ("m", 0.5)


def test_summary_counts_distinct_strings_per_type_with_examples():
    rows = [
        ("s1", "x", 0, 4, "TiO2", "MAT", "human", None),
        ("s2", "x", 0, 4, "TiO2", "MAT", "knn", 0.9),
        ("s2", "x", 9, 13, "TiO2", "MAT", "knn", 0.7),
        ("s3", "x", 0, 3, "ZnO", "MAT", "knn", 0.6),
        ("s3", "x", 5, 9, "TiO2", "PRO", "knn", 0.2),
    ]
    t = pd.DataFrame(rows, columns=list(E.ENTITY_COLUMNS))
    s = E.entity_summary(t, examples=1)
    assert list(s.columns) == list(E.SUMMARY_COLUMNS)
    top = s.iloc[0].to_dict()
    assert (top["label"], top["text"], top["mentions"], top["sentences"]) == ("MAT", "TiO2", 3, 2)
    assert top["sources"] == "human 1; knn 2" and top["mean_score"] == pytest.approx(0.8) and top["example_ids"] == "s1"
    assert s[["label", "text"]].values.tolist() == [["MAT", "TiO2"], ["MAT", "ZnO"], ["PRO", "TiO2"]]
    assert E.entity_summary(t.iloc[:0]).empty


def test_filter_keeps_unscored_human_rows_above_a_score():
    t = pd.DataFrame([("a", "x", 0, 1, "TiO2", "MAT", "human", None), ("b", "x", 0, 1, "ZnO", "MAT", "knn", 0.3),
                      ("c", "x", 0, 1, "gap", "PRO", "knn", 0.9)], columns=list(E.ENTITY_COLUMNS))
    assert list(E.filter_table(t, min_score=0.5)["sentence_id"]) == ["a", "c"]
    assert list(E.filter_table(t, labels=["PRO"])["sentence_id"]) == ["c"]
    assert list(E.filter_table(t, sources=["knn"], text="zn")["sentence_id"]) == ["b"]


def test_scores_from_each_kind_of_uncertainty():
    s = sent("a", "TiO2 thin films", [])
    spans = [Span(0, 4, "MAT", "TiO2", "suggested"), Span(5, 15, "SMT", "thin films", "suggested")]
    assert E.span_scores(s, spans, 0.5, "knn-margin", {"word_uncertainty": [0.1, 0.4, 0.6]}) == [0.9, 0.5]
    assert E.span_scores(s, spans, 0.5, "knn-margin", {}) == [0.5, 0.5]
    assert E.span_scores(s, spans, 2.0, "perplexity") == [0.5, 0.5]
    assert E.span_scores(s, spans, 0.25, "disagreement") == [0.75, 0.75]
    assert E.span_scores(s, spans, float("nan"), "none") == [None, None]


@pytest.fixture
def predicted(tmp_path):
    embedder = HashEmbedder()
    pool = Corpus([make_sentence(*row) for row in DEMOS + QUERIES + EXTRA])
    p = Project.create(tmp_path / "out.allabel", pool, schema=list(LABELS), name="out")
    for sid in ("d1", "d2", "d3"):
        confirm(p, sid)
    predict_rest(p, embedder, llm(embedder))
    yield p
    p.close()


def test_export_all_is_confirmed_labels_plus_predictions_in_pool_order(predicted):
    exp = X.export_sentences(predicted, "all")
    assert [s.id for s in exp.sentences] == predicted.pool_ids()
    assert (exp.confirmed, exp.predicted, exp.notes) == (3, len(predicted) - 3, [])
    t = exp.table()
    human = t[t["source"] == "human"]
    want = [(s.id, sp.start, sp.end, sp.label) for s in predicted.annotated() for sp in s.spans]
    assert sorted(zip(human["sentence_id"], human["start"], human["end"], human["label"])) == sorted(want)
    model = t[t["source"] != "human"]
    stored = predicted.records.rest_predictions()
    want = [(sid, sp.start, sp.end, sp.label) for sid, r in stored.items() for sp in r.prediction.spans]
    assert sorted(zip(model["sentence_id"], model["start"], model["end"], model["label"])) == sorted(want)
    assert set(model["source"]) == {"fake"}
    assert set(X.export_sentences(predicted, "confirmed").table()["source"]) == {"human"}
    only = X.export_sentences(predicted, "predicted")
    assert {s.id for s in only.sentences} == set(stored) and "human" not in set(only.table()["source"])


def test_a_sentence_confirmed_after_prediction_exports_as_the_persons(predicted):
    predicted.labels.add_span("q2", 0, 3, "PRO")
    predicted.labels.confirm("q2")
    t = X.export_sentences(predicted, "all").table()
    rows = t[t["sentence_id"] == "q2"]
    assert rows[["text", "label", "source"]].values.tolist() == [["The", "PRO", "human"]]


def test_unpredicted_sentences_are_left_out_and_said(tmp_path):
    pool = Corpus([make_sentence(*row) for row in DEMOS])
    p = Project.create(tmp_path / "none.allabel", pool, schema=list(LABELS))
    confirm(p, "d1")
    exp = X.export_sentences(p, "all")
    assert [s.id for s in exp.sentences] == ["d1"] and "predict the rest" in exp.notes[0]
    p.close()


def test_write_export_csv_is_the_entity_table(predicted, tmp_path):
    out = tmp_path / "entities.csv"
    exp, warnings = X.write_export(predicted, out, "all")
    back = pd.read_csv(out, keep_default_na=False, dtype={"sentence_id": str})
    assert list(back.columns) == list(E.ENTITY_COLUMNS) and len(back) == len(exp.table())
    assert back["text"].tolist() == exp.table()["text"].tolist() and warnings == []
    for _, r in back.iterrows():
        assert r["sentence"][int(r["start"]):int(r["end"])] == r["text"]


def test_write_export_span_formats_carry_status_and_round_trip(predicted, tmp_path):
    out = tmp_path / "all.jsonl"
    exp, _ = X.write_export(predicted, out, "all")
    back = read_corpus(out)
    assert back.format == "spacy" and [s.id for s in back] == [s.id for s in exp.sentences]
    assert [[sp.key() for sp in s.spans] for s in back] == [[sp.key() for sp in s.spans] for s in exp.sentences]
    statuses = {sp.status for s in back for sp in s.spans}
    assert statuses == {"confirmed", "suggested"}
    ls = tmp_path / "all.json"
    X.write_export(predicted, ls, "all")
    tasks = json.loads(ls.read_text())
    assert any("predictions" in t for t in tasks) and any("annotations" in t for t in tasks)
    pred_task = next(t for t in tasks if "predictions" in t)
    assert pred_task["predictions"][0]["model_version"] == "fake"
    human = next(t for t in tasks if "annotations" in t)
    assert {r["value"]["text"] for r in human["annotations"][0]["result"]} <= set(human["data"]["text"].split())
    # spaCy-style spans keep who made them and the score, as read back
    marked = {(sp.status, sp.source) for s in back for sp in s.spans}
    assert marked == {("confirmed", "human"), ("suggested", "fake")}


def test_bad_export_requests_write_nothing(predicted, tmp_path):
    for name, include, match in (("x.pdf", "all", "extension"), ("x.csv", "some", "include must be"),
                                 ("x.txt", "all", "plain text")):
        with pytest.raises(ConfigError, match=match):
            X.write_export(predicted, tmp_path / name, include)
        assert not (tmp_path / name).exists()


def test_export_bytes_summary_and_table(predicted):
    data, _ = X.export_bytes(predicted, "summary", "all")
    s = pd.read_csv(io.BytesIO(data))
    assert list(s.columns) == list(E.SUMMARY_COLUMNS) and s["mentions"].sum() == len(X.export_sentences(predicted).table())


def test_kept_export_is_built_again_only_when_the_project_changes(predicted, monkeypatch, tmp_path):
    """The Entities page reruns on every click; at 100k sentences the export
    takes tens of seconds, so it is kept until a label, a prediction, a
    type or the pool changes, and then built again."""
    built = []
    real = X.export_sentences

    def spy(project, include="all"):
        built.append(include)
        return real(project, include)

    monkeypatch.setattr(X, "export_sentences", spy)
    exp, table = X.kept_export(predicted, "all")
    again, table2 = X.kept_export(predicted, "all")
    assert built == ["all"] and again is exp and table2 is table
    assert len(table) == len(real(predicted, "all").table())

    def rebuilt(change) -> bool:
        before = len(built)
        change()
        X.kept_export(predicted, "all")
        return len(built) == before + 1

    assert rebuilt(lambda: predicted.labels.add_span("q2", 0, 3, "PRO"))  # a label, before confirming
    assert rebuilt(lambda: predicted.labels.confirm("q2"))
    t = X.kept_export(predicted, "all")[1]
    assert t[t["sentence_id"] == "q2"]["source"].tolist() == ["human"]
    assert rebuilt(lambda: predicted.labels.undo())
    assert rebuilt(lambda: predicted.types.add("NEW", "a new type"))
    assert rebuilt(lambda: predict_rest(predicted, HashEmbedder(), llm(HashEmbedder()), force=True))
    assert not rebuilt(lambda: None)
    # Another choice is its own entry; the project's earlier one is let go.
    X.kept_export(predicted, "confirmed")
    assert built[-1] == "confirmed" and sum(1 for k in X._KEPT if k[0] == str(predicted.path)) == 1
