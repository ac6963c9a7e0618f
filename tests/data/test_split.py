"""Splitting paragraphs into sentences: offsets kept, spans never cut."""

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.errors import DataFormatError
from allabel_core.data.sentence import Sentence
from allabel_core.data.split import sentence_bounds, split_corpus

PARA = ("The band gap of TiO2 is 3.2 eV (Fig. 2a). We used e.g. XRD at 450 °C. "
        "Dr. Smith et al. reported 1.5 wt.% Pt on 𝛼-Al2O3.  Then it was tested.")


def test_bounds_are_sentences_without_whitespace_and_abbreviations_survive():
    got = [PARA[a:b] for a, b in sentence_bounds(PARA)]
    assert got == ["The band gap of TiO2 is 3.2 eV (Fig. 2a).", "We used e.g. XRD at 450 °C.",
                   "Dr. Smith et al. reported 1.5 wt.% Pt on 𝛼-Al2O3.", "Then it was tested."]


def test_no_boundary_inside_a_span():
    # "a. B" would be a boundary; a span over it keeps the two pieces together.
    text = "It is made of mat. A and more. Next one."
    start = text.index("mat. A")
    assert len(sentence_bounds(text)) == 3
    kept = sentence_bounds(text, keep=[(start, start + 6)])
    assert [text[a:b] for a, b in kept] == ["It is made of mat. A and more.", "Next one."]


def test_split_corpus_keeps_offsets_spans_and_meta():
    a = PARA.index("TiO2")
    b = PARA.index("𝛼-Al2O3")
    doc = Sentence.from_text("abs1", PARA, [(a, a + 4, "MAT"), (b, b + 7, "MAT")], meta={"journal": "J"})
    out = split_corpus(Corpus([doc, Sentence.from_text("abs2", "Only one sentence here.")], source="in.jsonl"))
    assert out.ids == ["abs1-s1", "abs1-s2", "abs1-s3", "abs1-s4", "abs2"]
    for s in out:
        assert PARA[s.meta["doc_start"]:s.meta["doc_end"]] == s.text or s.id == "abs2"
        assert s.meta["doc_id"] == s.id.split("-s")[0]
    assert out[0].meta["journal"] == "J"
    assert [(sp.text, sp.label) for sp in out[0].spans] == [("TiO2", "MAT")]
    assert [sp.text for sp in out[2].spans] == ["𝛼-Al2O3"]
    for s in out:
        for sp in s.spans:
            assert s.text[sp.start:sp.end] == sp.text
    assert "1 of 2 records split" in out.warnings[-1]


def test_split_refuses_an_id_collision():
    c = Corpus([Sentence.from_text("d", "One. Two."), Sentence.from_text("d-s1", "Other.")], source="x.jsonl")
    with pytest.raises(DataFormatError, match="'d-s1'"):
        split_corpus(c)
