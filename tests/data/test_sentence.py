import pytest

from allabel_core.errors import DataFormatError
from allabel_core.data.sentence import Sentence, Span, is_iob1, spans_to_tags, tags_to_spans
from allabel_core.data.tokenize import tokenize, tokens_from_words


def test_tokenizer_keeps_formulas_and_decimals_whole():
    words = [t.text for t in tokenize("LiNi0.8Co0.1Mn0.1O2 (NCM811) gave 3.2 eV, 1,000 cycles.")]
    assert words == ["LiNi0.8Co0.1Mn0.1O2", "(", "NCM811", ")", "gave", "3.2", "eV", ",", "1,000", "cycles", "."]


def test_tokenizer_offsets_count_code_points_with_astral_characters():
    text = "𝛼-Fe2O3 and 😀 TiO2"
    toks = tokenize(text)
    assert [text[t.start : t.end] for t in toks] == [t.text for t in toks]
    assert toks[0].text == "𝛼" and toks[0].end == 1
    assert toks[-1].text == "TiO2" and toks[-1].start == text.index("TiO2")


def test_tokenizer_cuts_at_span_boundaries():
    toks = tokenize("LiFePO4based", boundaries=[7])
    assert [t.text for t in toks] == ["LiFePO4", "based"]


def test_from_text_aligns_tokens_to_spans_and_round_trips_bio():
    text = "The LiFePO4-based cathode reached 170 mAh g−1."
    s = Sentence.from_text("a", text, [(4, 11, "MAT"), (34, 45, "VAL")])
    assert [sp.text for sp in s.spans] == ["LiFePO4", "170 mAh g−1"]
    tags = s.tags()
    back, repaired = tags_to_spans(s.text, s.tokens, tags)
    assert repaired == 0
    assert [(b.start, b.end, b.label) for b in back] == [sp.key() for sp in s.spans]


def test_crlf_is_normalised_and_offsets_follow():
    raw = "Line one\r\nTiO2 here\r\nand ZnO"
    s = Sentence.from_text("a", raw, [(10, 14, "MAT"), Span(25, 28, "MAT", "ZnO")])
    assert s.text == "Line one\nTiO2 here\nand ZnO"
    assert [sp.text for sp in s.spans] == ["TiO2", "ZnO"]
    assert [(sp.start, sp.end) for sp in s.spans] == [(9, 13), (23, 26)]


@pytest.mark.parametrize(
    "spans, message",
    [
        ([(0, 99, "MAT")], "outside the text"),
        ([(3, 3, "MAT")], "outside the text"),
        ([Span(0, 4, "MAT", "TiO3")], "says 'TiO3' but the text there is 'TiO2'"),
        ([(0, 4, "bad label")], "invalid label"),
        ([Span(0, 4, "MAT", "TiO2", "guessed")], "status"),
    ],
)
def test_bad_spans_raise_with_a_reason(spans, message):
    with pytest.raises(DataFormatError, match=message):
        Sentence.from_text("a", "TiO2 film", spans)


def test_from_tags_rejects_length_mismatch_and_bad_tags():
    with pytest.raises(DataFormatError, match="2 tokens but 1 tags"):
        Sentence.from_tags("a", ["a", "b"], ["O"])
    with pytest.raises(DataFormatError, match="token 2 .*unknown tag 'B_MAT'"):
        Sentence.from_tags("a", ["a", "b"], ["O", "B_MAT"])
    with pytest.raises(DataFormatError, match="empty"):
        Sentence.from_tags("a", ["a", ""], ["O", "O"])


def test_i_without_start_is_repaired_and_counted():
    s, repaired = Sentence.from_tags("a", ["x", "TiO2", "film"], ["O", "I-MAT", "I-MAT"])
    assert repaired == 1
    assert s.tags() == ["O", "B-MAT", "I-MAT"]


def test_overlapping_spans_keep_the_longest_and_report_the_rest():
    s = Sentence.from_text("a", "nitrogen-doped carbon nanotube", [(0, 30, "MAT"), (15, 21, "MAT")])
    tags, dropped = spans_to_tags(s.tokens, s.spans)
    assert tags[0] == "B-MAT" and all(t == "I-MAT" for t in tags[1:])
    assert [(d.start, d.end) for d in dropped] == [(15, 21)]


def test_iob1_detection():
    assert is_iob1([["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]])
    assert not is_iob1([["B-PER", "I-PER", "O", "B-LOC"]])
    assert not is_iob1([["B-PER", "O", "I-LOC"]])  # IOB2 with one broken entity


def test_tags_statuses_filter_suggested_from_trusted():
    s = Sentence.from_text("a", "TiO2 and ZnO", [Span(0, 4, "MAT", "TiO2", "confirmed"), Span(9, 12, "MAT", "ZnO", "suggested")])
    assert s.tags(("gold", "confirmed")) == ["B-MAT", "O", "O"]
    assert s.tags() == ["B-MAT", "O", "B-MAT"]


def test_tokens_from_words_offsets():
    text, toks = tokens_from_words(["a", "𝛼", "bc"])
    assert text == "a 𝛼 bc"
    assert [(t.start, t.end) for t in toks] == [(0, 1), (2, 3), (4, 6)]
