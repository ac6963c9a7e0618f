"""CoNLL as it is found: named .txt, the tag not last, row numbers, header
and comment lines; columns chosen by the caller; errors that say what was found."""

from __future__ import annotations

import pytest

from allabel_core.errors import ConfigError, DataFormatError
from allabel_core.formats import read_corpus, read_corpus_bytes

# CoNLL-2003's shape: token POS chunk NER, IOB1, -DOCSTART-.
CONLL2003 = (
    "-DOCSTART- -X- -X- O\n\n"
    "Cathodes NNS B-NP O\nof IN B-PP O\nLiFePO4 NNP B-NP I-MAT\nfade VBP B-VP O\n\n"
    "Nb NNP B-NP I-MAT\ndoping NN I-NP O\nhelps VBZ B-VP O\n"
)

# GermEval 2014's shape: "#" source line, row number, token, outer and nested tags.
GERMEVAL = (
    "#\thttp://example.org/wiki/Materials [2024-01-01]\n"
    "1\tDie\tO\tO\n2\tBatterie\tO\tO\n3\taus\tO\tO\n4\tLiFePO4\tB-MAT\tO\n5\tvon\tO\tO\n"
    "6\tCATL\tB-ORG\tO\n7\tNingde\tI-ORG\tB-LOC\n\n"
    "#\thttp://example.org/wiki/Other [2024-01-02]\n"
    "1\tTiO2\tB-MAT\tO\n2\taus\tO\tO\n3\tChina\tB-LOC\tO\n"
)


def test_conll2003_named_train_txt_is_read_as_conll_with_a_note(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL2003)
    corpus = read_corpus(path)
    assert corpus.format == "conll"
    assert corpus.tags() == [["O", "O", "B-MAT", "O"], ["B-MAT", "O", "O"]]
    text = "\n".join(corpus.warnings)
    assert "read as CoNLL" in text and "IOB1" in text
    assert "also hold" not in text  # the chunk column (NP, VP) is another layer, not a rival


def test_plain_text_txt_stays_text():
    corpus = read_corpus_bytes(b"LiFePO4 is a cathode.\nTiO2 films were grown.\n", "abstracts.txt")
    assert corpus.format == "text" and corpus.warnings == []


def test_doccano_example_txt_shape_is_conll():
    data = b"EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\n\nPeter\tB-PER\nBlackburn\tI-PER\n"
    corpus = read_corpus_bytes(data, "example.txt")
    assert corpus.format == "conll" and corpus.tags() == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


def test_unknown_extension_is_sniffed():
    corpus = read_corpus_bytes(CONLL2003.encode(), "eng.train")
    assert corpus.format == "conll"
    assert any("told from the content" in w for w in corpus.warnings)


def test_germeval_rows_comments_and_tag_columns():
    corpus = read_corpus_bytes(GERMEVAL.encode(), "germeval.tsv")
    assert corpus.format == "conll"
    assert corpus[0].words == ["Die", "Batterie", "aus", "LiFePO4", "von", "CATL", "Ningde"]  # not row numbers
    text = "\n".join(corpus.warnings)
    assert "comment lines (#) skipped (2x): line 1; line 10" in text
    assert "numbers the tokens" in text and "column 2" in text
    assert "column 3 also holds entity tags; tags read from column 4" in text
    assert corpus.tags()[0] == ["O"] * 6 + ["B-LOC"]
    outer = read_corpus_bytes(GERMEVAL.encode(), "germeval.tsv", tag_column=3)
    assert outer.tags()[0] == ["O", "O", "O", "B-MAT", "O", "B-ORG", "I-ORG"]
    assert outer[1].words == ["TiO2", "aus", "China"] and outer.tags()[1] == ["B-MAT", "O", "B-LOC"]


def test_token_and_tag_columns_are_chosen():
    data = b"B-MAT\tLiFePO4\tNNP\nO\tis\tVBZ\n"
    corpus = read_corpus_bytes(data, "x.conll", token_column=2, tag_column=1)
    assert corpus[0].words == ["LiFePO4", "is"] and corpus.tags() == [["B-MAT", "O"]]
    with pytest.raises(DataFormatError, match=r"tag_column=5, but line 1 has 3 columns"):
        read_corpus_bytes(data, "x.conll", tag_column=5)
    with pytest.raises(ConfigError, match="tag_column must be a column number from 1"):
        read_corpus_bytes(data, "x.conll", tag_column=0)


def test_header_line_is_skipped_with_a_note():
    data = b"token\tpos\tner\nLiFePO4\tNNP\tB-MAT\nis\tVBZ\tO\n"
    corpus = read_corpus_bytes(data, "flair.tsv")
    assert corpus.format == "conll" and corpus[0].words == ["LiFePO4", "is"]
    assert any("line 1 read as a header and skipped" in w for w in corpus.warnings)


def test_a_hash_token_with_a_tag_is_still_a_token():
    corpus = read_corpus_bytes(b"#\tO\n5\tB-VAL\n", "x.conll")
    assert corpus[0].words == ["#", "5"] and corpus.warnings == []


def test_errors_say_what_was_found():
    with pytest.raises(DataFormatError) as info:
        read_corpus_bytes(b"LiFePO4 NNP B-MAT\nis VBZ\n", "x.conll")
    assert info.value.line == 2
    assert "2 columns ('is' | 'VBZ'), but line 1 has 3 ('LiFePO4' | 'NNP' | 'B-MAT')" in info.value.reason
    # with the comment line gone, GermEval's row numbers are not read as tokens
    rows = "\n".join(line for line in GERMEVAL.splitlines() if not line.startswith("#")) + "\n"
    assert read_corpus_bytes(rows.encode(), "g.tsv")[0].words[0] == "Die"
    with pytest.raises(DataFormatError, match=r"x.conll, line 2: token 'is': unknown tag 'NNX'"):
        read_corpus_bytes(b"LiFePO4 B-MAT\nis NNX\n", "x.conll")
