"""Readers and writers: what each format reads, detection, writing, and round
trips over the sample corpus, the shared datasets and random astral texts."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.errors import ConfigError, DataFormatError
from allabel_core.formats import (
    FORMATS,
    detect_format,
    dumps_corpus,
    read_corpus,
    read_corpus_bytes,
    write_corpus,
)
from allabel_core.data.sentence import STATUSES, TRUSTED, Sentence, Span

WELLFORMED = Path(__file__).parent / "wellformed"
SAMPLE_POOL = Path(__file__).resolve().parents[2] / "sample_data" / "pool.jsonl"
TOKEN_FORMATS = ("conll", "jsonl")
SPAN_FORMATS = ("doccano", "spacy", "labelstudio", "prodigy")
EXTENSION = {
    "jsonl": "jsonl", "conll": "conll", "doccano": "jsonl", "spacy": "jsonl", "labelstudio": "json", "text": "txt",
    "prodigy": "jsonl", "jsonl-text": "jsonl", "table": "csv",
}
UNLABELLED = ("text", "jsonl-text", "table")

S1 = "LiFePO4 nanoparticles were coated with carbon by sol-gel synthesis."


def keys(sentence: Sentence, statuses=STATUSES) -> list[tuple[int, int, str]]:
    return [sp.key() for sp in sentence.spans_with(statuses)]


# -- registry and detection ----------------------------------------------------
def test_registry_entries():
    assert set(FORMATS) == {
        "jsonl", "conll", "doccano", "labelstudio", "prodigy", "spacy", "jsonl-text", "table", "text"
    }
    for name, f in FORMATS.items():
        assert callable(f.reader) and callable(f.writer) and f.description
        assert all(e.startswith(".") for e in f.extensions)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("jsonl_tokens_tags.jsonl", "jsonl"),
        ("conll_iob2.conll", "conll"),
        ("conll2003_iob1.conll", "conll"),
        ("doccano.jsonl", "doccano"),
        ("labelstudio.json", "labelstudio"),
        ("spacy.jsonl", "spacy"),
        ("text.txt", "text"),
    ],
)
def test_wellformed_examples_read_in_their_format(name, fmt):
    corpus = read_corpus(WELLFORMED / name)
    assert corpus.format == fmt and corpus.source == str(WELLFORMED / name)
    assert len(corpus) in (2, 3)
    if name != "conll2003_iob1.conll":
        assert corpus.warnings == []


@pytest.mark.parametrize("ext", [".conll", ".bio", ".iob", ".tsv", ".CoNLL"])
def test_conll_extensions(ext):
    assert detect_format(f"x{ext}", "a O\n") == "conll"


@pytest.mark.parametrize(
    "record, fmt",
    [
        ({"tokens": [], "tags": []}, "jsonl"),
        ({"text": "", "label": []}, "doccano"),
        ({"text": "", "labels": []}, "doccano"),
        ({"text": "", "spans": []}, "spacy"),
    ],
)
@pytest.mark.parametrize("ext", [".jsonl", ".ndjson"])
def test_jsonl_is_sniffed_from_the_first_record(record, fmt, ext):
    assert detect_format(f"upload{ext}", "\n" + json.dumps(record) + "\n") == fmt


def test_unknown_extension_says_what_to_do():
    with pytest.raises(DataFormatError, match="pass fmt="):
        read_corpus_bytes(b"a O\n", "data.xyz")
    assert read_corpus_bytes(b"TiO2 B-MAT\n", "data.xyz", "conll").tags() == [["B-MAT"]]


def test_format_can_be_overridden(tmp_path):
    # A CoNLL train.txt is told from its content, with a note; fmt= reads it as lines of text.
    path = tmp_path / "train.txt"
    path.write_text("-DOCSTART- -X- O O\n\nTiO2 NNP I-NP B-MAT\nfilms NNS I-NP O\n")
    sniffed = read_corpus(path)
    assert sniffed.format == "conll" and sniffed.tags() == [["B-MAT", "O"]]
    assert any("read as CoNLL" in w and "fmt='text'" in w for w in sniffed.warnings)
    as_text = read_corpus(path, "text")
    assert as_text.texts[1] == "TiO2 NNP I-NP B-MAT"
    assert "pass fmt='conll'" in as_text.warnings[0]


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        read_corpus_bytes(b"x", "a.txt", "xml")
    with pytest.raises(ConfigError, match="status"):
        read_corpus_bytes(b"x", "a.txt", status="maybe")
    with pytest.raises(ConfigError, match="statuses"):
        dumps_corpus([], "spacy", statuses=["gold", "approved"])


# -- what each reader reads ------------------------------------------------------
def test_jsonl_tokens_are_authoritative():
    corpus = read_corpus(WELLFORMED / "jsonl_tokens_tags.jsonl")
    s = corpus[1]
    assert s.words[1] == "𝛼-Fe2O3" and s.text.startswith("The 𝛼-Fe2O3 films")
    assert keys(s) == [(4, 11, "MAT"), (12, 17, "DSC"), (27, 35, "PRO")]
    assert {sp.status for sp in s.spans} == {"gold"}


def test_status_argument_applies_to_spans_read():
    corpus = read_corpus(WELLFORMED / "conll_iob2.conll", status="suggested")
    assert {sp.status for s in corpus for sp in s.spans} == {"suggested"}


def test_conll_ids_comments_docstart_and_columns():
    data = (
        "-DOCSTART- -X- -X- O\n\n"
        "# id = first\n# text = TiO2 films\nTiO2 NNP B-MAT\nfilms NNS O\n\n\n"
        "# sent_id = second\n# NN O\n\n"
        "LiFePO4 NNP I-MAT\n"
    )
    corpus = read_corpus_bytes(data.encode(), "x.conll")
    assert corpus.ids == ["first", "second", "line-12"]
    assert corpus[1].words == ["#"]  # a token "#" is not a comment
    assert corpus.tags() == [["B-MAT", "O"], ["O"], ["B-MAT"]]


def test_conll_tabs_allow_tokens_the_tokenizer_would_split():
    corpus = read_corpus_bytes(b"Ti-6Al-4V\tB-MAT\n(\tO\n", "x.tsv")
    assert corpus[0].words == ["Ti-6Al-4V", "("]


def test_iob1_is_converted_with_one_warning():
    corpus = read_corpus(WELLFORMED / "conll2003_iob1.conll")
    assert corpus.tags() == [["B-MAT", "O", "B-MAT", "O"], ["B-MAT", "B-MAT", "O"]]
    [warning] = corpus.warnings
    assert "IOB1" in warning and "converted to IOB2" in warning and "3 entity starts" in warning


def test_bioes_is_read_and_warned():
    corpus = read_corpus_bytes(b"Li\tB-MAT\nFePO4\tE-MAT\nfilms\tS-DSC\n", "x.bio")
    assert corpus.tags() == [["B-MAT", "I-MAT", "B-DSC"]]
    assert any("BIOES" in w for w in corpus.warnings)


def test_doccano_ids_and_older_labels_key():
    corpus = read_corpus(WELLFORMED / "doccano.jsonl")
    assert corpus.ids == ["1", "2", "line-3"]
    assert keys(corpus[2]) == [(0, 20, "PRO"), (26, 32, "MAT")]
    assert corpus[2].spans[1].text == "Bi2Te3"


def test_label_studio_annotations_predictions_and_score():
    corpus = read_corpus(WELLFORMED / "labelstudio.json")
    assert corpus.ids == ["101", "102", "103"]
    a, p, both = corpus
    assert {sp.status for sp in a.spans} == {"gold"}
    assert {sp.status for sp in p.spans} == {"suggested"}
    assert {k: v for k, v in p.meta.items() if k != "labelstudio"} == {"score": 0.82, "model_version": "llm-v1"}
    assert p.meta["labelstudio"] == {"annotated": False, "id": 102, "from_name": "label", "to_name": "text"}
    # annotations win over predictions
    assert keys(both) == [(0, 20, "PRO"), (26, 32, "MAT")] and set(both.meta) == {"labelstudio"}
    confirmed = read_corpus(WELLFORMED / "labelstudio.json", status="confirmed")
    assert {sp.status for sp in confirmed[0].spans} == {"confirmed"}
    assert {sp.status for sp in confirmed[1].spans} == {"suggested"}


def test_label_studio_several_annotations_cancelled_and_other_result_types():
    two_labels = {"start": 0, "end": 4, "labels": ["A", "B"]}

    def result(start, end, label):
        return {"type": "labels", "value": {"start": start, "end": end, "labels": [label]}}

    tasks = [
        {
            "data": {"text": "TiO2 films", "id": "t1"},
            "annotations": [
                {"was_cancelled": True, "result": [result(0, 4, "DSC")]},
                {"result": [result(0, 4, "MAT"), {"type": "choices", "value": {"choices": ["ok"]}}]},
                {"result": [result(5, 10, "DSC")]},
            ],
        },
        {"data": {"text": "TiO2"}, "annotations": [{"result": [{"value": two_labels}]}]},
    ]
    corpus = read_corpus_bytes(json.dumps(tasks).encode(), "tasks.json")
    assert corpus.ids == ["t1", "record-2"]
    assert keys(corpus[0]) == [(0, 4, "MAT")]
    assert keys(corpus[1]) == [(0, 4, "A"), (0, 4, "B")]
    text = "\n".join(corpus.warnings)
    assert "several annotations, the first read (1x): record 1 (line 1)" in text
    assert "type other than 'labels' skipped (1x): record 1, result 2 ('choices')" in text


def test_spacy_statuses_and_meta_are_kept():
    corpus = read_corpus(WELLFORMED / "spacy.jsonl")
    assert [{sp.status for sp in s.spans} for s in corpus] == [{"gold"}, {"suggested"}, {"confirmed"}]
    data = json.dumps({"text": "TiO2", "spans": [], "meta": {"source": "x"}, "tokens": [{"text": "TiO2"}]})
    corpus = read_corpus_bytes(data.encode(), "prodigy.jsonl")
    assert corpus.ids == ["line-1"] and corpus[0].meta == {"source": "x"}


def test_text_reader_ids_are_line_numbers():
    corpus = read_corpus(WELLFORMED / "text.txt")
    assert corpus.ids == ["line-1", "line-3", "line-4"]
    assert corpus[0].text == S1 and corpus[0].spans == ()
    assert corpus[0].words[:3] == ["LiFePO4", "nanoparticles", "were"]


# -- writing -------------------------------------------------------------------------
def _mixed() -> list[Sentence]:
    s = Sentence.from_text("m1", "TiO2 films on LiFePO4", [Span(0, 4, "MAT", "TiO2", "gold")])
    s = s.with_spans(
        [
            Span(0, 4, "MAT", "TiO2", "gold"),
            Span(5, 10, "DSC", "films", "confirmed"),
            Span(14, 21, "MAT", "LiFePO4", "suggested"),
        ]
    )
    return [s, Sentence.from_text("m2", "Bi2Te3", [(0, 6, "MAT")], status="suggested")]


def test_status_filter_leaves_suggested_out_without_warnings():
    for fmt in FORMATS:
        if fmt in UNLABELLED:
            continue
        text, warnings = dumps_corpus(_mixed(), fmt)
        assert warnings == []
        back = read_corpus_bytes(text.encode(), f"x.{EXTENSION[fmt]}", fmt)
        assert keys(back[0]) == [(0, 4, "MAT"), (5, 10, "DSC")] and back[1].spans == ()


def test_label_studio_writes_suggested_spans_as_predictions():
    sentences = _mixed()
    sentences[1].meta["score"] = 0.5
    text, _ = dumps_corpus(sentences, "labelstudio", statuses=STATUSES)
    tasks = json.loads(text)
    assert [r["value"]["text"] for r in tasks[0]["annotations"][0]["result"]] == ["TiO2", "films"]
    assert [r["value"]["labels"] for r in tasks[0]["predictions"][0]["result"]] == [["MAT"]]
    assert tasks[1]["predictions"][0]["score"] == 0.5 and "annotations" not in tasks[1]
    assert tasks[0]["data"] == {"text": "TiO2 films on LiFePO4", "id": "m1"}
    back = read_corpus_bytes(text.encode(), "x.json")
    assert back[1].meta["score"] == 0.5 and {sp.status for sp in back[1].spans} == {"suggested"}


def test_spacy_writes_every_status_when_asked():
    text, _ = dumps_corpus(_mixed(), "spacy", statuses=STATUSES)
    back = read_corpus_bytes(text.encode(), "x.jsonl")
    assert [(sp.key(), sp.status) for sp in back[0].spans] == [(sp.key(), sp.status) for sp in _mixed()[0].spans]


def test_text_writer_warns_about_what_it_cannot_hold():
    s = Sentence.from_text("a", "TiO2\nfilms", [(0, 4, "MAT")])
    text, warnings = dumps_corpus([s, Sentence.from_text("b", "")], "text")
    assert text == "TiO2 films\n"
    assert len(warnings) == 3 and "1 spans not written" in warnings[-1]


def test_write_corpus_picks_the_format_from_extension_or_corpus(tmp_path):
    corpus = read_corpus(WELLFORMED / "doccano.jsonl")
    assert write_corpus(corpus, tmp_path / "back.jsonl") == []
    assert read_corpus(tmp_path / "back.jsonl").format == "doccano"
    with pytest.raises(ConfigError, match="can hold jsonl, doccano, prodigy, spacy, jsonl-text"):
        write_corpus(list(corpus), tmp_path / "plain.jsonl")
    write_corpus(list(corpus), tmp_path / "out.conll")
    assert read_corpus(tmp_path / "out.conll").tags() == corpus.tags()


def test_writes_are_atomic_and_keep_permissions(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    corpus = read_corpus(WELLFORMED / "spacy.jsonl")
    write_corpus(corpus, path)
    assert (path.stat().st_mode & 0o777) == 0o640
    assert read_corpus(path).ids == corpus.ids

    def exploding():
        yield corpus[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_corpus(exploding(), path, "spacy")
    assert read_corpus(path).ids == corpus.ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_dumps_returns_text_for_download():
    text, warnings = dumps_corpus(read_corpus(WELLFORMED / "jsonl_tokens_tags.jsonl"), "conll", ids=True)
    assert isinstance(text, str) and warnings == []
    assert text.startswith("# id = s1\nLiFePO4\tB-MAT\n")
    assert (WELLFORMED / "conll_iob2.conll").read_text() == text


# -- round trips -------------------------------------------------------------------------
def _round_trip(corpus, fmt, statuses=TRUSTED):
    options = {"ids": True} if fmt == "conll" else {}
    text, warnings = dumps_corpus(corpus, fmt, statuses=statuses, **options)
    return read_corpus_bytes(text.encode("utf-8"), f"round.{EXTENSION[fmt]}", fmt), warnings


def _assert_same(original, back, fmt, statuses=TRUSTED):
    assert back.ids == original.ids
    if fmt in TOKEN_FORMATS:
        assert [s.words for s in back] == [s.words for s in original]
        assert back.tags() == original.tags(statuses)
    else:
        assert back.texts == original.texts
        if fmt == "spacy":
            assert [[(sp.key(), sp.status) for sp in s.spans] for s in back] == [
                [(sp.key(), sp.status) for sp in s.spans_with(statuses)] for s in original
            ]
        else:
            assert [keys(s) for s in back] == [keys(s, statuses) for s in original]


@pytest.mark.parametrize("fmt", TOKEN_FORMATS + SPAN_FORMATS)
def test_sample_corpus_round_trips(fmt):
    if not SAMPLE_POOL.exists():
        pytest.skip(f"sample corpus {SAMPLE_POOL} not written yet")
    original = read_corpus(SAMPLE_POOL)
    statuses = STATUSES if fmt == "spacy" else TRUSTED
    back, warnings = _round_trip(original, fmt, statuses)
    _assert_same(original, back, fmt, statuses)


_DATASETS = [("matscholar", "dev"), ("bc5cdr", "dev"), ("wnut17", "dev"), ("matscholar", "test")]
_loaded: dict = {}


def _dataset(root: Path, name: str, split: str) -> Corpus:
    if (name, split) not in _loaded:
        _loaded[name, split] = read_corpus(root / name / f"{split}.jsonl")
    return _loaded[name, split]


@pytest.mark.parametrize("fmt", TOKEN_FORMATS + SPAN_FORMATS)
@pytest.mark.parametrize("name, split", _DATASETS)
def test_shared_datasets_round_trip(shared_datasets, name, split, fmt):
    original = _dataset(shared_datasets, name, split)
    assert original.warnings == [] and original.format == "jsonl"
    back, warnings = _round_trip(original, fmt)
    assert warnings == [] and back.warnings == []
    _assert_same(original, back, fmt)
    if fmt in SPAN_FORMATS:
        # the spans are the same, so the tags over the original tokens are too
        assert [s.with_spans(b.spans).tags() for s, b in zip(original, back)] == original.tags()


def test_span_corpus_through_conll_keeps_tokens_and_tags_not_whitespace():
    original = read_corpus(WELLFORMED / "spacy.jsonl")
    back, _ = _round_trip(original, "conll", STATUSES)
    assert [s.words for s in back] == [s.words for s in original]
    assert back.tags() == original.tags(STATUSES)
    assert back[0].text != original[0].text  # "sol-gel" comes back as "sol - gel"


def test_text_round_trips_texts():
    original = read_corpus(WELLFORMED / "text.txt")
    back, warnings = _round_trip(original, "text")
    assert back.texts == original.texts and warnings == []


_ALPHABET = "abcXYZ019 ,.-()\n\t𝛼𝜇🔥é°−😀"


def _random_sentence(rng: random.Random, i: int) -> Sentence:
    text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 40)))
    edges = [k for k, ch in enumerate(text) if not ch.isspace()]
    spans = set()
    for _ in range(rng.randint(0, 4)):
        if not edges:
            break
        a, b = sorted(rng.sample(edges, 2)) if len(edges) > 1 else (edges[0], edges[0])
        spans.add((a, b + 1, rng.choice(["MAT", "PRO", "DSC"])))
    return Sentence.from_text(f"r{i}", text, spans)


@pytest.mark.parametrize("fmt", SPAN_FORMATS)
def test_random_astral_spans_round_trip(fmt):
    rng = random.Random(20240)
    original = Corpus([_random_sentence(rng, i) for i in range(300)])
    assert any(ord(ch) > 0xFFFF for text in original.texts for ch in text)
    back, warnings = _round_trip(original, fmt)
    assert warnings == [] and back.warnings == []
    assert back.texts == original.texts
    assert [keys(s) for s in back] == [keys(s) for s in original]
