"""Unlabelled input: ``{"text"}`` JSONL and ``.csv``/``.tsv`` tables with a
text column, read as a pool with ids and meta kept; the bad inputs refused."""

from __future__ import annotations

import json

import pytest

from allabel_core.errors import ConfigError, DataFormatError
from allabel_core.formats import dumps_corpus, read_corpus_bytes


def _jsonl(*records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


# -- {"text"} JSONL ------------------------------------------------------------------
def test_text_jsonl_is_an_unlabelled_pool_with_ids_and_meta():
    data = _jsonl(
        {"text": "LiFePO4 is a cathode.", "id": "a1", "meta": {"source": "paper 3"}},
        {"text": "TiO2 films were grown.", "pmid": 12345},
        {"text": "Bi2Te3 𝛼-phase.", "id": 7},
    )
    corpus = read_corpus_bytes(data, "pool.jsonl")
    assert corpus.format == "jsonl-text" and corpus.warnings == []
    assert corpus.ids == ["a1", "line-2", "7"]
    assert corpus.texts[2] == "Bi2Te3 𝛼-phase."
    assert corpus[0].meta == {"source": "paper 3"}
    assert corpus[1].meta == {"pmid": 12345}  # other keys are kept, as doccano keeps them
    assert all(s.spans == () for s in corpus) and not corpus.has_gold()
    assert corpus[0].words[:2] == ["LiFePO4", "is"]


def test_text_jsonl_round_trips_ids_texts_and_meta():
    data = _jsonl({"text": "A b.", "id": "x", "meta": {"k": [1, 2]}}, {"text": "C d.", "id": "y"})
    corpus = read_corpus_bytes(data, "pool.jsonl")
    text, warnings = dumps_corpus(corpus, "jsonl-text")
    assert warnings == []
    back = read_corpus_bytes(text.encode(), "back.jsonl")
    assert back.format == "jsonl-text"
    assert (back.ids, back.texts, [s.meta for s in back]) == (corpus.ids, corpus.texts, [s.meta for s in corpus])


def test_text_jsonl_with_another_text_key():
    corpus = read_corpus_bytes(_jsonl({"abstract": "One.", "id": "p1"}), "p.jsonl", text_column="abstract")
    assert corpus.texts == ["One."] and corpus.ids == ["p1"]
    with pytest.raises(DataFormatError, match=r"line 1: missing key 'abstract' \(keys present: 'text'\)"):
        read_corpus_bytes(_jsonl({"text": "One."}), "p.jsonl", text_column="abstract")


def test_text_jsonl_refusals_name_the_line():
    with pytest.raises(DataFormatError, match=r"p.jsonl, line 2: 'text' must be a string, got number"):
        read_corpus_bytes(_jsonl({"text": "ok"}, {"text": 3}), "p.jsonl")
    with pytest.raises(DataFormatError, match=r"line 1: 'meta' must be an object, got list"):
        read_corpus_bytes(_jsonl({"text": "ok", "meta": [1]}), "p.jsonl")
    with pytest.raises(DataFormatError, match=r"line 2: duplicate id 'a'"):
        read_corpus_bytes(_jsonl({"text": "x", "id": "a"}, {"text": "y", "id": "a"}), "p.jsonl")


def test_text_jsonl_empty_texts_are_skipped_and_counted():
    corpus = read_corpus_bytes(_jsonl({"text": "ok"}, {"text": "  "}), "p.jsonl")
    assert corpus.ids == ["line-1"]
    assert any("record with empty text skipped (1x): line 2" in w for w in corpus.warnings)


def test_a_record_with_spans_among_text_records_keeps_the_span_reader():
    # Every other record has no "spans": the spaCy reader asks for them rather
    # than reading an unannotated record as one with no entities.
    data = _jsonl({"text": "a", "spans": []}, {"text": "b"})
    with pytest.raises(DataFormatError, match="line 2: missing key 'spans'"):
        read_corpus_bytes(data, "p.jsonl")


# -- tables --------------------------------------------------------------------------
def test_csv_with_a_text_column_and_ids():
    data = 'id,text,year\nd1,"LiFePO4, a cathode.",2019\nd2,TiO2 films.,2020\n'.encode()
    corpus = read_corpus_bytes(data, "abstracts.csv")
    assert corpus.format == "table" and corpus.warnings == []
    assert corpus.ids == ["d1", "d2"] and corpus.texts == ["LiFePO4, a cathode.", "TiO2 films."]
    assert corpus[0].meta == {"year": "2019"}


def test_chosen_text_column_and_line_ids():
    data = b"pmid,Abstract\n1,First one.\n2,Second one.\n"
    corpus = read_corpus_bytes(data, "a.csv", text_column="abstract")  # case-insensitive
    assert corpus.texts == ["First one.", "Second one."]
    assert corpus.ids == ["line-2", "line-3"] and corpus[0].meta == {"pmid": "1"}
    corpus = read_corpus_bytes(data, "a.csv", text_column="Abstract", id_column="pmid")
    assert corpus.ids == ["1", "2"] and corpus[0].meta == {}


def test_tsv_table_is_told_from_its_header():
    data = b"id\ttext\nx\tA sentence, with a comma.\ny\tAnother.\n"
    corpus = read_corpus_bytes(data, "pool.tsv")
    assert corpus.format == "table" and corpus.texts[0] == "A sentence, with a comma."
    # a CoNLL .tsv stays CoNLL
    assert read_corpus_bytes(b"TiO2\tB-MAT\nfilms\tO\n", "x.tsv").format == "conll"
    # a table without a text column says which columns it has, not "unknown tag"
    with pytest.raises(DataFormatError, match="no text column: the header has 2 column.s.: 'pmid', 'abstract'"):
        read_corpus_bytes(b"pmid\tabstract\n1\tLiFePO4 is a cathode.\n", "pool.tsv")


def test_quoted_cells_may_hold_line_breaks_and_the_line_numbers_stay_right():
    data = b'text\n"two\nlines"\n\nlast\n'
    corpus = read_corpus_bytes(data, "t.csv")
    assert corpus.texts == ["two\nlines", "last"] and corpus.ids == ["line-2", "line-5"]


def test_one_column_needs_no_name():
    corpus = read_corpus_bytes(b"abstract\nFirst.\nSecond.\n", "t.csv")
    assert corpus.texts == ["First.", "Second."]


def test_missing_text_column_names_the_columns_found():
    with pytest.raises(DataFormatError) as info:
        read_corpus_bytes(b"pmid,abstract,year\n1,x,2\n", "a.csv")
    err = info.value
    assert (err.path, err.line) == ("a.csv", 1)
    assert "no text column: the header has 3 column(s): 'pmid', 'abstract', 'year'" in err.reason
    assert "text_column=" in err.reason and "--text-column" in err.reason
    with pytest.raises(DataFormatError, match="no column 'body': the header has 1 column"):
        read_corpus_bytes(b"text\nx\n", "a.csv", text_column="body")
    with pytest.raises(DataFormatError, match="no column 'doc' for the ids"):
        read_corpus_bytes(b"text\nx\n", "a.csv", id_column="doc")


def test_empty_and_header_only_tables_are_refused():
    with pytest.raises(DataFormatError, match=r"a.csv, line 1: the file is empty"):
        read_corpus_bytes(b"", "a.csv")
    with pytest.raises(DataFormatError, match=r"line 1: the table has a header \('text'\) but no rows"):
        read_corpus_bytes(b"text\n", "a.csv")
    with pytest.raises(DataFormatError, match="only blank lines"):
        read_corpus_bytes(b"\n\n", "a.csv")


def test_ragged_rows_and_empty_ids_name_their_line():
    with pytest.raises(DataFormatError, match=r"line 3: 3 cells, but the header \(line 1\) has 2 columns"):
        read_corpus_bytes(b"id,text\na,x\nb,y,z\n", "a.csv")
    with pytest.raises(DataFormatError, match=r"line 2: the 'id' cell is empty"):
        read_corpus_bytes(b"id,text\n,x\n", "a.csv")


def test_empty_text_cells_are_skipped_and_counted():
    corpus = read_corpus_bytes(b"id,text\na,x\nb,\n", "a.csv")
    assert corpus.ids == ["a"]
    assert any("empty 'text' cell skipped (1x): line 3" in w for w in corpus.warnings)


def test_table_options_only_where_they_apply():
    with pytest.raises(ConfigError, match="text_column= does not apply to the conll format"):
        read_corpus_bytes(b"TiO2 B-MAT\n", "x.conll", text_column="text")
    # a .txt with a text column asked for is a table
    corpus = read_corpus_bytes(b"id\ttext\na\tOne.\n", "x.txt", text_column="text")
    assert corpus.format == "table" and corpus.ids == ["a"]


def test_table_round_trip():
    corpus = read_corpus_bytes('id,text,year\nd1,"a, b",1\nd2,c,2\n'.encode(), "t.csv")
    text, warnings = dumps_corpus(corpus, "table")
    back = read_corpus_bytes(text.encode(), "back.csv")
    assert (back.ids, back.texts, [s.meta for s in back]) == (corpus.ids, corpus.texts, [s.meta for s in corpus])


def test_table_columns_for_choosing_the_text_column():
    from allabel_core.formats import table_columns

    assert table_columns(b"pmid,Abstract,year\n1,x,2\n", "a.csv") == ["pmid", "Abstract", "year"]
    assert table_columns(b"\nid\ttext\n", "a.tsv") == ["id", "text"]
    with pytest.raises(DataFormatError, match="a.csv, line 1: the file is empty"):
        table_columns(b"", "a.csv")


def test_random_tables_round_trip():
    import random

    from allabel_core.data.corpus import Corpus
    from allabel_core.data.sentence import Sentence

    rng = random.Random(3)
    alphabet = 'abc XYZ,;"\'\n\t𝛼😀é-'
    sentences = []
    for i in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))).strip() or "x"
        sentences.append(Sentence.from_text(f"id,{i}\"", text, meta={"note": rng.choice(["", "a,b", 'q"q'])}))
    corpus = Corpus(sentences)
    for fmt, name in (("table", "t.csv"), ("jsonl-text", "t.jsonl")):
        text, _ = dumps_corpus(corpus, fmt)
        back = read_corpus_bytes(text.encode(), name)
        assert back.ids == corpus.ids and [s.meta for s in back] == [s.meta for s in corpus], fmt
        # the table strips surrounding whitespace of a cell's text, as the text reader does a line's
        assert back.texts == [t.strip() if fmt == "table" else t for t in corpus.texts], fmt


def test_the_sample_pool_as_text_and_as_conll_named_txt():
    from pathlib import Path

    from allabel_core.formats import read_corpus

    pool = read_corpus(Path(__file__).resolve().parents[2] / "sample_data" / "pool.jsonl")
    as_text, _ = dumps_corpus(pool, "text")
    assert read_corpus_bytes(as_text.encode(), "pool.txt").format == "text"
    as_conll, _ = dumps_corpus(pool, "conll")
    back = read_corpus_bytes(as_conll.encode(), "pool.txt")
    assert back.format == "conll" and back.tags() == pool.tags()
