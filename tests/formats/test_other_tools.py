"""doccano's relation export and Label Studio's task shapes read right; and
what we write, checked against the target tools' own rules: doccano's CoNLL
importer, conlleval's input, and Label Studio's converter (installed)."""

from __future__ import annotations

import json
import re

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.errors import DataFormatError
from allabel_core.formats import dumps_corpus, read_corpus_bytes, write_corpus
from allabel_core.data.sentence import Sentence

S1 = "LiFePO4 coated with carbon shows high capacity."
S2 = "No entities in this one."
S3 = "TiO2 and 𝛼-Fe2O3 were annealed."


# -- doccano relation export ---------------------------------------------------------
def test_doccano_relation_export_reads_entities_and_keeps_relations():
    records = [
        {"id": 11, "text": S1,
         "entities": [{"id": 101, "label": "MAT", "start_offset": 0, "end_offset": 7},
                      {"id": 102, "label": "MAT", "start_offset": 20, "end_offset": 26},
                      {"id": 103, "label": "PRO", "start_offset": 38, "end_offset": 46}],
         "relations": [{"id": 5, "from_id": 101, "to_id": 103, "type": "HAS_PROPERTY"}], "Comments": []},
        {"id": 12, "text": S2, "entities": [], "relations": [], "Comments": []},
    ]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    corpus = read_corpus_bytes(data, "relations.jsonl")
    assert corpus.format == "doccano" and corpus.ids == ["11", "12"]
    assert [sp.text for sp in corpus[0].spans] == ["LiFePO4", "carbon", "capacity"]
    assert corpus[0].meta["relations"] == [{"id": 5, "type": "HAS_PROPERTY", "from": [0, 7, "MAT"], "to": [38, 46, "PRO"]}]
    assert any("relations kept in the sentence's meta['relations']" in w for w in corpus.warnings)
    # written back in the relation shape, the relation pointing at the right entities
    text, warnings = dumps_corpus(corpus, "doccano")
    assert warnings == []
    first = json.loads(text.splitlines()[0])
    ents = {e["id"]: (e["start_offset"], e["end_offset"], e["label"]) for e in first["entities"]}
    [rel] = first["relations"]
    assert (ents[rel["from_id"]], ents[rel["to_id"]], rel["type"]) == ((0, 7, "MAT"), (38, 46, "PRO"), "HAS_PROPERTY")
    back = read_corpus_bytes(text.encode(), "back.jsonl")
    assert back[0].meta["relations"][0]["from"] == [0, 7, "MAT"]


def test_pretty_printed_json_in_a_jsonl_file():
    record = {"text": S1, "entities": [{"id": 0, "start_offset": 0, "end_offset": 7, "label": "MAT"}], "relations": []}
    one = json.dumps(record, indent=4).encode()  # as doccano's docs show its relation example
    corpus = read_corpus_bytes(b"\n" + one + b"\n", "example.jsonl")
    assert corpus.format == "doccano" and [sp.text for sp in corpus[0].spans] == ["LiFePO4"]
    two = one + b"\n" + one
    with pytest.raises(DataFormatError, match=r"line 1: a JSON value spread over several lines \('\{' alone"):
        read_corpus_bytes(two, "example.jsonl")


def test_json_arrays_of_other_tools_records_are_read_by_their_keys():
    doccano = [{"id": 1, "text": S1, "label": [[0, 7, "MAT"]]}, {"id": 2, "text": S2, "label": []}]
    corpus = read_corpus_bytes(json.dumps(doccano, indent=2).encode(), "doccano.json")
    assert corpus.format == "doccano" and [len(s.spans) for s in corpus] == [1, 0]
    tokens = [{"id": "a", "tokens": ["TiO2", "films"], "tags": ["B-MAT", "O"]}]
    assert read_corpus_bytes(json.dumps(tokens).encode(), "hf.json").format == "jsonl"
    # Label Studio tasks, bare or JSON-min, stay Label Studio
    assert read_corpus_bytes(json.dumps([{"text": S1}]).encode(), "bare.json").format == "labelstudio"
    json_min = [{"text": S1, "label": [{"start": 0, "end": 7, "text": "LiFePO4", "labels": ["MAT"]}], "annotator": 1}]
    assert read_corpus_bytes(json.dumps(json_min).encode(), "min.json").format == "labelstudio"
    with pytest.raises(DataFormatError, match=r"line 3: record 2: invalid JSON"):
        read_corpus_bytes(b'[{"text": "a", "label": []},\n\n {"text": }]', "doccano.json")


def test_doccano_relation_naming_no_entity_is_refused():
    rec = {"text": S1, "entities": [{"id": 1, "label": "MAT", "start_offset": 0, "end_offset": 7}],
           "relations": [{"id": 1, "from_id": 1, "to_id": 9, "type": "X"}]}
    with pytest.raises(DataFormatError, match="line 1: relation 1: to_id 9 names no entity of this record"):
        read_corpus_bytes((json.dumps(rec) + "\n").encode(), "r.jsonl")


# -- Label Studio shapes ---------------------------------------------------------------
def _ls_result(start, end, text, label, from_name="ner", to_name="body"):
    return {"id": f"x{start}", "from_name": from_name, "to_name": to_name, "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def test_label_studio_single_task_and_tasks_without_data_wrapper():
    one = {"id": 7, "data": {"text": S1}, "annotations": [{"result": [_ls_result(0, 7, "LiFePO4", "MAT")]}]}
    corpus = read_corpus_bytes(json.dumps(one, indent=2).encode(), "task.json")
    assert corpus.ids == ["7"] and [sp.text for sp in corpus[0].spans] == ["LiFePO4"]
    bare = [{"text": S1, "source": "paper"}, {"text": S2}]
    corpus = read_corpus_bytes(json.dumps(bare).encode(), "bare.json")
    assert corpus.texts == [S1, S2] and all(s.spans == () for s in corpus)
    assert corpus[0].meta["source"] == "paper"
    other_key = [{"data": {"abstract": S1}, "annotations": [{"result": [_ls_result(0, 7, "LiFePO4", "MAT")]}]}]
    with pytest.raises(DataFormatError, match="in 'data', missing key 'text' \\(keys present: 'abstract'\\)"):
        read_corpus_bytes(json.dumps(other_key).encode(), "a.json")
    corpus = read_corpus_bytes(json.dumps(other_key).encode(), "a.json", text_column="abstract")
    assert [sp.text for sp in corpus[0].spans] == ["LiFePO4"]
    assert json.loads(dumps_corpus(corpus, "labelstudio")[0])[0]["data"]["abstract"] == S1


def test_label_studio_json_min_export_is_read_with_its_spans():
    records = [
        {"id": 5, "text": S1, "label": [{"start": 0, "end": 7, "text": "LiFePO4", "labels": ["MAT"]}],
         "annotator": 1, "annotation_id": 9, "created_at": "2026-01-01", "lead_time": 3.2},
        {"id": 6, "text": S2, "annotator": 1, "annotation_id": 10},  # annotated, no entities
    ]
    corpus = read_corpus_bytes(json.dumps(records).encode(), "min.json")
    assert [[sp.text for sp in s.spans] for s in corpus] == [["LiFePO4"], []]
    assert corpus[0].meta["labelstudio"]["from_name"] == "label" and "label" not in corpus[0].meta
    assert corpus[1].meta["labelstudio"]["annotated"] is True
    assert any("JSON-min" in w for w in corpus.warnings)


def test_label_studio_names_ids_and_meta_are_kept_and_written_back():
    tasks = [
        {"id": 41, "data": {"text": S1}, "meta": {"batch": "b1"},
         "annotations": [{"result": [_ls_result(0, 7, "LiFePO4", "MAT")]}]},
        {"id": 42, "data": {"text": S2}, "annotations": [{"result": []}]},
        {"id": 43, "data": {"text": S3}},
    ]
    corpus = read_corpus_bytes(json.dumps(tasks).encode(), "export.json")
    assert corpus[0].meta["batch"] == "b1"
    text, _ = dumps_corpus(corpus, "labelstudio")
    out = json.loads(text)
    assert [t["id"] for t in out] == [41, 42, 43]
    assert out[0]["meta"] == {"batch": "b1"}
    r = out[0]["annotations"][0]["result"][0]
    assert (r["from_name"], r["to_name"]) == ("ner", "body")
    assert out[1]["annotations"] == [{"result": []}]  # finished, no entities
    assert "annotations" not in out[2]  # it was never annotated


def test_label_studio_every_confirmed_sentence_gets_an_annotation():
    sentences = [Sentence.from_text("a", S1, [(0, 7, "MAT")]), Sentence.from_text("b", S2)]
    by_default = json.loads(dumps_corpus(sentences, "labelstudio")[0])
    assert "annotations" not in by_default[1]  # a bare list says nothing about "b"
    finished = json.loads(dumps_corpus(sentences, "labelstudio", annotated=True)[0])
    assert finished[1]["annotations"] == [{"result": []}] and [t["id"] for t in finished] == [1, 2]
    chosen = json.loads(dumps_corpus(sentences, "labelstudio", annotated=["b"])[0])
    assert chosen[1]["annotations"] == [{"result": []}]
    # a corpus read from a labelled format is annotated throughout
    gold = read_corpus_bytes(b"LiFePO4\tB-MAT\n\nfilms\tO\n", "g.conll")
    tasks = json.loads(dumps_corpus(gold, "labelstudio")[0])
    assert [len(t["annotations"][0]["result"]) for t in tasks] == [1, 0]


# -- Label Studio's own converter -----------------------------------------------------
CONFIG = """<View>
  <Labels name="{from_name}" toName="{to_name}">
    <Label value="MAT"/><Label value="PRO"/><Label value="DSC"/>
  </Labels>
  <Text name="{to_name}" value="$text"/>
</View>"""


def _convert(tmp_path, tasks_path, from_name="label", to_name="text"):
    converter = pytest.importorskip("label_studio_converter.converter")
    conv = converter.Converter(CONFIG.format(from_name=from_name, to_name=to_name), str(tmp_path))
    out = tmp_path / "conll"
    conv.convert_to_conll2003(str(tasks_path), str(out), is_dir=False)
    blocks = [b for b in (out / "result.conll").read_text().split("\n\n") if b.strip()]
    sentences = []
    for block in blocks:
        rows = [line.split(" ") for line in block.splitlines() if not line.startswith("-DOCSTART-")]
        if rows:
            sentences.append(rows)
    return sentences


def test_label_studio_converter_keeps_every_sentence(tmp_path):
    gold = Corpus([
        Sentence.from_text("s1", S1, [(0, 7, "MAT"), (38, 46, "PRO")]),
        Sentence.from_text("s2", S2),  # confirmed, no entities
        Sentence.from_text("s3", S3, [(0, 4, "MAT"), (9, 16, "MAT")]),
    ], format="spacy")
    path = tmp_path / "tasks.json"
    assert write_corpus(gold, path, "labelstudio", annotated=True) == []
    converted = _convert(tmp_path, path)
    assert len(converted) == len(gold)  # the sentence without entities is not dropped
    entity_starts = [sum(1 for row in rows if row[-1].startswith("B-")) for rows in converted]
    assert entity_starts == [len(s.spans) for s in gold]


def test_label_studio_converter_finds_entities_under_the_names_read(tmp_path):
    tasks = [{"id": 3, "data": {"text": S1}, "annotations": [{"result": [_ls_result(0, 7, "LiFePO4", "MAT")]}]}]
    corpus = read_corpus_bytes(json.dumps(tasks).encode(), "export.json")
    path = tmp_path / "back.json"
    write_corpus(corpus, path)
    [rows] = _convert(tmp_path, path, "ner", "body")
    assert rows[0][0] == "LiFePO4" and rows[0][-1] == "B-MAT"


# -- CoNLL as doccano and conlleval take it -----------------------------------------
def _doccano_conll_rules(text: str) -> list[tuple[list[str], list[str]]]:
    """doccano's CoNLL importer as documented in its source: every non-blank
    line is exactly ``token<TAB>tag``; a blank line ends a sentence (so two
    blank lines in a row make an empty example); IOB2 tags."""
    from seqeval.scheme import IOB2, Tokens

    out, words, tags = [], [], []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    for number, line in enumerate(lines, 1):
        line = line.rstrip()
        if line:
            cols = line.split("\t")
            assert len(cols) == 2, f"line {number}: doccano needs token TAB tag, got {line!r}"
            words.append(cols[0])
            tags.append(cols[1])
        else:
            assert words, f"line {number}: a blank line with no sentence before it makes an empty example"
            out.append((words, tags))
            words, tags = [], []
    if words:
        out.append((words, tags))
    for words, tags in out:
        Tokens(tags, IOB2)  # raises on a tag seqeval cannot parse
        assert all(re.fullmatch(r"O|[BI]-\S+", t) for t in tags)
    return out


def _conlleval_rules(text: str, delimiter: str) -> int:
    """conlleval's input rules: the same number of fields on every token line,
    at least two, a blank line (or -X- boundary) between sentences."""
    widths = {len(line.split(delimiter)) for line in text.split("\n") if line}
    assert widths == {2}, widths
    return text.count("\n\n") + 1


def test_our_conll_passes_doccanos_importer_rules():
    corpus = read_corpus_bytes(json.dumps([
        {"id": 1, "data": {"text": S1}, "annotations": [{"result": [_ls_result(0, 7, "LiFePO4", "MAT")]}]},
        {"id": 2, "data": {"text": S2}, "annotations": [{"result": []}]},
        {"id": 3, "data": {"text": S3}, "annotations": [{"result": [_ls_result(9, 16, "𝛼-Fe2O3", "MAT")]}]},
    ]).encode(), "tasks.json")
    text, warnings = dumps_corpus(corpus, "conll")
    assert warnings == [] and "#" not in text
    parsed = _doccano_conll_rules(text)
    assert [w for w, _ in parsed] == [s.words for s in corpus]
    assert [t for _, t in parsed] == corpus.tags()


def test_our_conll_fits_conlleval_once_the_predicted_column_is_pasted():
    corpus = read_corpus_bytes(b"LiFePO4\tB-MAT\nis\tO\n\nTiO2\tB-MAT\n", "g.conll")
    gold, _ = dumps_corpus(corpus, "conll", delimiter=" ")
    pred, _ = dumps_corpus(corpus, "conll", delimiter=" ")
    pasted = "\n".join(
        f"{g} {p.split(' ')[1]}" if g else "" for g, p in zip(gold.split("\n"), pred.split("\n"))
    )
    widths = {len(line.split(" ")) for line in pasted.split("\n") if line}
    assert widths == {3}
    assert _conlleval_rules(gold, " ") == 2
    assert _conlleval_rules(dumps_corpus(corpus, "conll")[0], "\t") == 2  # conlleval -d '\t'


def test_conll_writer_options_are_checked():
    from allabel_core.errors import ConfigError

    sentences = [Sentence.from_text("a", "TiO2")]
    with pytest.raises(ConfigError, match="delimiter must be a tab or a space"):
        dumps_corpus(sentences, "conll", delimiter=",")
    with pytest.raises(ConfigError, match="ids= does not apply to the spacy format"):
        dumps_corpus(sentences, "spacy", ids=True)


def test_conll_ids_only_when_asked_and_read_back():
    corpus = read_corpus_bytes(b'{"id": "s9", "tokens": ["TiO2"], "tags": ["B-MAT"]}\n', "x.jsonl")
    assert dumps_corpus(corpus, "conll")[0] == "TiO2\tB-MAT\n"
    with_ids = dumps_corpus(corpus, "conll", ids=True)[0]
    assert with_ids == "# id = s9\nTiO2\tB-MAT\n"
    assert read_corpus_bytes(with_ids.encode(), "x.conll").ids == ["s9"]


def test_project_export_gives_a_confirmed_sentence_without_entities_an_annotation(tmp_path):
    from allabel_core.project import Project

    pool = Corpus([Sentence.from_text("a", S1), Sentence.from_text("b", S2), Sentence.from_text("c", S3)])
    schema = {"labels": [{"name": "MAT", "description": "a material", "color": "#E69F00"}]}
    p = Project.create(tmp_path / "p.allabel", pool, schema=schema, name="t")
    try:
        p.labels.add_span("a", 0, 7, "MAT")
        p.labels.confirm("a")
        p.labels.confirm("b")  # looked at, nothing in it
        data, warnings = p.export("labelstudio")
    finally:
        p.close()
    tasks = json.loads(data)
    assert warnings == [] and [t["data"]["id"] for t in tasks] == ["a", "b"]
    assert [len(t["annotations"][0]["result"]) for t in tasks] == [1, 0]
    assert all(isinstance(t["id"], int) for t in tasks)
