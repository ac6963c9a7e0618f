"""The malformed-file corpus: every file either fails naming file, line and
cause, or reads with the repair it needed listed in the warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from allabel_core.errors import DataFormatError
from allabel_core.formats import dumps_corpus, read_corpus, read_corpus_bytes, write_corpus
from allabel_core.data.sentence import Sentence

MALFORMED = Path(__file__).parent / "malformed"

# file -> (line the error names, part of its reason)
ERRORS = {
    "jsonl_length_mismatch.jsonl": (2, "3 tokens but 2 tags"),
    "jsonl_unknown_tag_underscore.jsonl": (3, "unknown tag 'B_MAT'"),
    "jsonl_tokens_not_list.jsonl": (2, "'tokens' must be a list, got string"),
    "jsonl_empty_token.jsonl": (2, "token 2 ('') is empty"),
    "jsonl_token_with_space.jsonl": (2, "token 1 ('Bi2Te3 thin') contains whitespace"),
    "jsonl_missing_tags.jsonl": (3, "missing key 'tags'"),
    "jsonl_tag_not_string.jsonl": (2, "the tag must be a string, got number 1"),
    "jsonl_truncated_line.jsonl": (2, "invalid JSON"),
    "jsonl_trailing_garbage.jsonl": (2, "invalid JSON: Extra data"),
    "jsonl_duplicate_id.jsonl": (3, "duplicate id 'a' (first used on line 1)"),
    "jsonl_not_utf8.jsonl": (2, "not valid UTF-8: byte 0xE9 at byte offset 122"),
    "jsonl_record_not_object.jsonl": (2, "expected a JSON object"),
    "jsonl_unknown_keys.jsonl": (3, "expected 'tokens' and 'tags' (jsonl)"),
    "jsonl_blank_lines_only.jsonl": (3, "only blank lines"),
    "jsonl_bad_id_type.jsonl": (2, "'id' must be a non-empty string or an integer, got list"),
    "conll_unknown_tag_prefix.conll": (6, "unknown tag 'X-MAT'"),
    "conll_not_utf8.conll": (5, "byte 0x96 at byte offset 31"),
    "conll_one_column.conll": (3, "only one column ('cathode')"),
    "conll_inconsistent_columns.conll": (5, "2 columns ('films' | 'B-MAT'), but line 1 has 4 ('LiFePO4' | 'NNP'"),
    "conll_empty.conll": (1, "the file is empty"),
    "conll_blank_lines_only.conll": (4, "only blank lines (4)"),
    "conll_docstart_only.conll": (2, "no sentences found"),
    "conll_utf16.conll": (1, "UTF-16"),
    "conll_empty_token.tsv": (4, "token '' is empty"),
    "text_empty.txt": (1, "the file is empty"),
    "text_blank_lines_only.txt": (3, "only blank lines"),
    "text_not_utf8.txt": (2, "byte 0xFF at byte offset 33"),
    "doccano_offsets_outside_text.jsonl": (2, "span [13, 30) APL lies outside the text (length 21)"),
    "doccano_start_after_end.jsonl": (2, "start 20 is after end 13"),
    "doccano_empty_span.jsonl": (1, "span 2: span [13, 13) APL is empty"),
    "doccano_label_not_string.jsonl": (2, "the label must be a non-empty string, got number 3"),
    "doccano_label_with_space.jsonl": (1, "label 'battery part' contains whitespace"),
    "doccano_start_as_string.jsonl": (1, "'start' must be an integer, got string '0'"),
    "doccano_missing_text.jsonl": (2, "missing key 'text'"),
    "doccano_text_not_string.jsonl": (2, "'text' must be a string, got list"),
    "doccano_span_not_triple.jsonl": (1, "span 1 must be [start, end, label]"),
    "doccano_lone_surrogate.jsonl": (2, "unpaired UTF-16 surrogate"),
    "spacy_span_text_mismatch.jsonl": (2, "the span says 'LiFePO4' but the text at [2, 9) is 'FePO4 i'"),
    "spacy_missing_spans.jsonl": (2, "missing key 'spans'"),
    "spacy_span_missing_label.jsonl": (1, "span 1: missing key 'label'"),
    "spacy_bad_status.jsonl": (1, "status 'accepted' is not one of"),
    "spacy_negative_start.jsonl": (3, "span [-1, 7) MAT lies outside the text"),
    "spacy_duplicate_id.jsonl": (3, "duplicate id 'a' (first used on line 1)"),
    "labelstudio_top_level_number.json": (1, "the top level must be a JSON array of tasks or one task object, found a number"),
    "labelstudio_result_missing_value.json": (26, "record 2, result 1: missing key 'value'"),
    "labelstudio_bad_json.json": (45, "record 2: invalid JSON"),
    "labelstudio_trailing_garbage.json": (27, "after the array of tasks"),
    "labelstudio_text_mismatch.json": (2, "record 1, result 1: the span says 'cathode'"),
    "labelstudio_empty_array.json": (2, "the array holds no tasks"),
    "labelstudio_missing_text.json": (50, "record 3: in 'data', missing key 'text' (keys present: 'sentence')"),
    "labelstudio_task_not_object.json": (26, "record 2: a task must be an object"),
    "labelstudio_labels_not_list.json": (26, "record 2, result 1: 'labels' must be a non-empty list"),
}

# Files that read, with the repair or normalisation they need; tested below.
READABLE = {
    "conll_i_without_b.conll",
    "jsonl_i_without_b.jsonl",
    "spacy_overlapping_spans.jsonl",
    "doccano_bom.jsonl",
    "spacy_crlf.jsonl",
    "doccano_astral.jsonl",
    "labelstudio_utf16_offsets.json",
    "doccano_whitespace_edges.jsonl",
    "labelstudio_not_a_list.json",
}


def test_every_file_in_the_corpus_has_an_expectation():
    assert len(ERRORS) >= 25
    assert {p.name for p in MALFORMED.iterdir()} == set(ERRORS) | READABLE


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_names_file_line_and_cause(name):
    line, fragment = ERRORS[name]
    path = MALFORMED / name
    with pytest.raises(DataFormatError) as info:
        read_corpus(path)
    err = info.value
    assert (err.path, err.line) == (str(path), line)
    assert str(err).startswith(f"{path}, line {line}: ")
    assert fragment in err.reason


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_upload_error_names_the_filename(name):
    line, fragment = ERRORS[name]
    with pytest.raises(DataFormatError) as info:
        read_corpus_bytes((MALFORMED / name).read_bytes(), name)
    assert str(info.value).startswith(f"{name}, line {line}: ")
    assert fragment in info.value.reason


def _load_into(target: list, path: Path) -> None:
    target.extend(read_corpus(path))


@pytest.mark.parametrize(
    "name", ["spacy_negative_start.jsonl", "jsonl_duplicate_id.jsonl", "labelstudio_missing_text.json"]
)
def test_failed_import_changes_nothing(name):
    # Each of these files has valid sentences before the bad one.
    before = Sentence.from_text("kept", "TiO2 films")
    target = [before]
    with pytest.raises(DataFormatError):
        _load_into(target, MALFORMED / name)
    assert target == [before]


def test_i_without_start_in_conll_is_repaired_and_names_the_line():
    corpus = read_corpus(MALFORMED / "conll_i_without_b.conll")
    assert corpus.tags()[1] == ["O", "B-DSC", "O", "B-MAT"]
    [warning] = corpus.warnings
    assert "I-X without a B-X" in warning and "(1x)" in warning
    assert "line 7, token 'films' I-DSC" in warning


def test_i_without_start_in_jsonl_names_line_and_token():
    corpus = read_corpus(MALFORMED / "jsonl_i_without_b.jsonl")
    assert corpus.tags()[1] == ["O", "B-MAT", "B-DSC"]
    [warning] = corpus.warnings
    assert "line 2, token 2 ('TiO2') I-MAT" in warning


def test_overlapping_spans_read_fine_and_bio_writers_list_the_dropped_one():
    corpus = read_corpus(MALFORMED / "spacy_overlapping_spans.jsonl")
    assert [(s.start, s.end, s.label) for s in corpus[0].spans] == [(0, 15, "APL"), (0, 7, "MAT")]
    assert corpus.warnings == []
    for fmt in ("conll", "jsonl"):
        _, warnings = dumps_corpus(corpus, fmt)
        [w] = warnings
        assert "'a'" in w and "[0, 7) MAT 'LiFePO4'" in w and "overlaps [0, 15) APL" in w
    for fmt in ("spacy", "doccano", "labelstudio"):
        assert dumps_corpus(corpus, fmt)[1] == []


def test_bom_is_accepted():
    corpus = read_corpus(MALFORMED / "doccano_bom.jsonl")
    assert corpus[0].text.startswith("LiFePO4")
    assert [s.text for s in corpus[0].spans] == ["LiFePO4"]


def test_crlf_is_normalised_and_offsets_stay_on_their_words():
    corpus = read_corpus(MALFORMED / "spacy_crlf.jsonl")
    s = corpus[0]
    assert s.text == "Cathodes:\nLiFePO4 and\nLiMn2O4."
    assert [(sp.start, sp.end, sp.text) for sp in s.spans] == [(10, 17, "LiFePO4"), (22, 29, "LiMn2O4")]
    assert corpus.ids == ["a", "b"] and corpus.warnings == []


def test_astral_characters_keep_later_offsets_right_and_round_trip(tmp_path):
    corpus = read_corpus(MALFORMED / "doccano_astral.jsonl")
    s = corpus[0]
    expected = [(4, 11, "𝛼-phase"), (15, 20, "Fe2O3"), (27, 36, "𝜇-LiFePO4")]
    assert [(sp.start, sp.end, sp.text) for sp in s.spans] == expected
    assert corpus.warnings == []
    for fmt, ext in (("doccano", "jsonl"), ("spacy", "jsonl"), ("labelstudio", "json")):
        path = tmp_path / f"astral.{fmt}.{ext}"
        assert write_corpus(corpus, path, fmt) == []
        back = read_corpus(path, fmt)
        assert back[0].text == s.text
        assert [sp.key() for sp in back[0].spans] == [sp.key() for sp in s.spans]
    for fmt in ("conll", "jsonl"):
        text, _ = dumps_corpus(corpus, fmt)
        back = read_corpus_bytes(text.encode(), f"astral.{fmt}", fmt)
        assert back[0].words == s.words and back.tags() == corpus.tags()


def test_utf16_offsets_are_converted_with_a_warning():
    corpus = read_corpus(MALFORMED / "labelstudio_utf16_offsets.json")
    assert [(sp.start, sp.end, sp.text) for sp in corpus[0].spans] == [(15, 20, "Fe2O3"), (27, 36, "𝜇-LiFePO4")]
    [warning] = corpus.warnings
    assert "UTF-16" in warning and "[29, 39) -> [27, 36)" in warning


def test_whitespace_at_span_edges_is_trimmed_with_a_warning():
    corpus = read_corpus(MALFORMED / "doccano_whitespace_edges.jsonl")
    assert [sp.text for sp in corpus[0].spans] == ["LiFePO4", "cathode."]
    [warning] = corpus.warnings
    assert "trimmed (2x)" in warning and "line 1" in warning


def test_a_single_label_studio_task_object_is_read():
    # Label Studio accepts one task object as well as an array of them.
    corpus = read_corpus(MALFORMED / "labelstudio_not_a_list.json")
    assert corpus.texts == ["LiFePO4 is a cathode."]
    assert [(sp.label, sp.text) for sp in corpus[0].spans] == [("MAT", "LiFePO4")]
