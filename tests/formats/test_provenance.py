"""Each span's source (a person or a predictor) and score, carried by every
writer the way its format can and read back from our own output."""

from __future__ import annotations

import json

import pytest

from allabel_core.formats import dumps_corpus, read_corpus_bytes
from allabel_core.data.sentence import STATUSES, Sentence, Span

TEXT = "TiO2 films on LiFePO4 and Bi2Te3"


def _sentences() -> list[Sentence]:
    s = Sentence.from_text(
        "p1",
        TEXT,
        [
            Span(0, 4, "MAT", "TiO2", "confirmed", "human"),
            Span(5, 10, "DSC", "films", "confirmed", "human"),
            Span(14, 21, "MAT", "LiFePO4", "suggested", "knn-v1", 0.875),
            Span(26, 32, "MAT", "Bi2Te3", "suggested", "gpt-x", 0.25),
        ],
    )
    plain = Sentence.from_text("p2", "No entities here.")
    return [s, plain]


def _prov(sentence):
    return [(sp.key(), sp.status, sp.source, sp.score) for sp in sentence.spans]


def test_the_model_keeps_source_and_score():
    s = _sentences()[0]
    assert _prov(s)[2] == ((14, 21, "MAT"), "suggested", "knn-v1", 0.875)
    moved = s.with_spans(s.spans)
    assert _prov(moved) == _prov(s)
    crlf = Sentence.from_text("c", "a\r\nTiO2", [Span(3, 7, "MAT", "TiO2", "gold", "human", 1.0)])
    assert _prov(crlf) == [((2, 6, "MAT"), "gold", "human", 1.0)]


@pytest.mark.parametrize("fmt, name", [("spacy", "x.jsonl"), ("prodigy", "x.jsonl")])
def test_span_attributes_round_trip(fmt, name):
    text, warnings = dumps_corpus(_sentences(), fmt, statuses=STATUSES)
    assert warnings == []
    record = json.loads(text.splitlines()[0])
    by_start = {sp["start"]: sp for sp in record["spans"]}
    assert by_start[14]["source"] == "knn-v1" and by_start[14]["score"] == 0.875
    assert by_start[0]["source"] == "human" and "score" not in by_start[0]
    back = read_corpus_bytes(text.encode(), name, fmt)
    assert _prov(back[0]) == _prov(_sentences()[0])


@pytest.mark.parametrize("fmt, tokens", [("doccano", False), ("jsonl", True)])
def test_side_field_round_trips(fmt, tokens):
    text, warnings = dumps_corpus(_sentences(), fmt, statuses=STATUSES)
    assert warnings == []
    first, second = (json.loads(line) for line in text.splitlines())
    assert "provenance" not in second  # nothing to say, nothing written
    side = {(e.get("start", e.get("token_start")), e["label"]): e for e in first["provenance"]}
    if tokens:
        # tokens: TiO2 films on LiFePO4 and Bi2Te3 -> LiFePO4 is token 3
        assert side[(3, "MAT")] == {"token_start": 3, "token_end": 3, "label": "MAT", "source": "knn-v1", "score": 0.875}
    else:
        assert side[(14, "MAT")] == {"start": 14, "end": 21, "label": "MAT", "source": "knn-v1", "score": 0.875}
    back = read_corpus_bytes(text.encode(), f"x.{'jsonl'}", fmt)
    # these formats hold no status: the reader's status comes back, source and score do
    assert [(sp.key(), sp.source, sp.score) for sp in back[0].spans] == [
        (sp.key(), sp.source, sp.score) for sp in _sentences()[0].spans
    ]


def test_side_field_entries_are_checked():
    bad = json.dumps({"text": "TiO2", "label": [[0, 4, "MAT"]], "provenance": [{"start": 0, "end": 4, "label": "MAT",
                                                                                  "score": "high"}]})
    with pytest.raises(Exception, match="line 1: provenance 1: 'score' must be a number, got string"):
        read_corpus_bytes(bad.encode(), "x.jsonl")
    stray = json.dumps({"text": "TiO2", "label": [], "provenance": [{"start": 0, "end": 4, "label": "MAT"}]})
    corpus = read_corpus_bytes(stray.encode(), "x.jsonl")
    assert any("provenance entries that match no span" in w for w in corpus.warnings)


def test_label_studio_human_in_annotations_predictions_by_model():
    text, warnings = dumps_corpus(_sentences(), "labelstudio", statuses=STATUSES)
    assert warnings == []
    tasks = json.loads(text)
    assert [t["id"] for t in tasks] == [1, 2]
    ann = tasks[0]["annotations"][0]["result"]
    assert [r["value"]["text"] for r in ann] == ["TiO2", "films"] and all("score" not in r for r in ann)
    preds = {p["model_version"]: p for p in tasks[0]["predictions"]}
    assert set(preds) == {"knn-v1", "gpt-x"}
    assert preds["knn-v1"]["score"] == 0.875 and preds["knn-v1"]["result"][0]["score"] == 0.875
    assert preds["gpt-x"]["result"][0]["value"]["text"] == "Bi2Te3"
    back = read_corpus_bytes(text.encode(), "x.json")
    # annotations win on reading (Label Studio shows one or the other); the human spans come back as human
    assert [(sp.key(), sp.source) for sp in back[0].spans] == [((0, 4, "MAT"), "human"), ((5, 10, "DSC"), "human")]
    only_predictions, _ = dumps_corpus(_sentences(), "labelstudio", statuses=("suggested",))
    back = read_corpus_bytes(only_predictions.encode(), "x.json")
    assert [(sp.key(), sp.status, sp.source, sp.score) for sp in back[0].spans] == [
        ((14, 21, "MAT"), "suggested", "knn-v1", 0.875)  # the first prediction is the one read
    ]


def test_conll_warns_that_it_cannot_hold_source_or_score():
    text, warnings = dumps_corpus(_sentences(), "conll", statuses=STATUSES)
    assert warnings == [
        "2 spans come from a predictor (a source other than 'human', or a score), which CoNLL cannot say; "
        "their source and score are not written"
    ]
    assert "knn" not in text
