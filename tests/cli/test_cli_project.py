"""`allabel project new / import / list`, and the library calls under them, with their bad inputs.

Every refused command prints one line and leaves the project (or the folder) as it was.
"""

from __future__ import annotations

import json

import pytest

from allabel_core.cli import main
from allabel_core.errors import MissingTypesError, ProjectError
from allabel_core.formats import read_corpus
from allabel_core.project import Project, find_project

TXT = "LiFePO4 is a cathode.\nWe coated LiFePO4 with carbon.\n\nNothing here.\n"
SCHEMA = {"labels": [{"name": "MAT", "description": "a material"}, {"name": "APL", "description": "an application"}]}


@pytest.fixture
def d(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_PROJECTS_DIR", str(tmp_path / "projects"))
    (tmp_path / "abstracts.txt").write_text(TXT, encoding="utf-8")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    return tmp_path


def run(*argv: str) -> int:
    return main(["project", *argv])


def one_error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("allabel project: error: "), err
    for n in needles:
        assert n in err[0], err[0]
    return err[0]


def snapshot(folder):
    return sorted((p.name, p.read_bytes()) for p in folder.glob("*.allabel")) if folder.exists() else []


def test_new_from_txt_then_list(d, capsys):
    assert run("new", "Abstracts", "--data", str(d / "abstracts.txt")) == 0
    out = capsys.readouterr().out
    assert "created 'abstracts'" in out and "3 sentences" in out and "none yet" in out
    p = Project.open(d / "projects" / "abstracts.allabel")
    assert p.name == "Abstracts" and p.schema.names == [] and len(p) == 3
    assert run("list") == 0
    assert "abstracts  0/3 confirmed  Abstracts" in capsys.readouterr().out
    # a second `new` of the same name is refused: later commands must find exactly one
    assert run("new", "abstracts", "--data", str(d / "abstracts.txt")) == 2
    one_error_line(capsys, "already exists")


def test_new_text_jsonl_with_schema_keeps_ids_and_meta(d, capsys):
    data = d / "pool.jsonl"
    data.write_text('{"id": "a1", "text": "LiFePO4 is a cathode.", "meta": {"doi": "10.1/x"}}\n'
                    '{"id": 7, "text": "Nothing here."}\n', encoding="utf-8")
    assert run("new", "j", "--data", str(data), "--schema", str(d / "schema.json"), "--projects-dir", str(d / "pd")) == 0
    p = Project.open(d / "pd" / "j.allabel")
    assert p.pool_ids() == ["a1", "7"] and p.schema.names == ["MAT", "APL"]
    assert p.schema.get("MAT").description == "a material"
    meta = json.loads(p._db.conn().execute("SELECT meta FROM sentences WHERE id = 'a1'").fetchone()[0])
    assert meta["doi"] == "10.1/x"


def test_new_csv_with_text_column_and_split(d, capsys):
    data = d / "papers.csv"
    data.write_text('pmid,abstract\n11,"LiFePO4 is a cathode. It was coated with carbon."\n12,Nothing here.\n',
                    encoding="utf-8")
    assert run("new", "papers", "--data", str(data), "--text-column", "abstract", "--split-sentences") == 0
    p = Project.open(find_project("papers"))
    assert [p.sentence(i).text for i in p.pool_ids()] == ["LiFePO4 is a cathode.", "It was coated with carbon.",
                                                           "Nothing here."]
    assert p.pool_ids()[0].endswith("-s1")


@pytest.mark.parametrize("content, args, needles", [
    ("pmid,abstract\n1,x\n", [], ["papers.csv", "line 1", "no text column", "'abstract'"]),
    ("pmid,abstract\n1,x\n", ["--text-column", "body"], ["papers.csv", "no column 'body'"]),
    ("", [], ["papers.csv", "empty"]),
])
def test_new_refuses_bad_tables_and_creates_nothing(d, capsys, content, args, needles):
    (d / "papers.csv").write_text(content, encoding="utf-8")
    assert run("new", "papers", "--data", str(d / "papers.csv"), *args) == 2
    one_error_line(capsys, *needles)
    assert snapshot(d / "projects") == []


def test_new_refuses_an_empty_txt_and_bad_schemas(d, capsys):
    (d / "empty.txt").write_text("\n\n", encoding="utf-8")
    assert run("new", "e", "--data", str(d / "empty.txt")) == 2
    one_error_line(capsys, "empty.txt", "only blank lines")
    (d / "dup.json").write_text(json.dumps({"labels": [{"name": "MAT"}, {"name": "MAT"}]}), encoding="utf-8")
    assert run("new", "e", "--data", str(d / "abstracts.txt"), "--schema", str(d / "dup.json")) == 2
    one_error_line(capsys, "dup.json", "already a type 'MAT'")
    (d / "bio.json").write_text(json.dumps({"labels": ["B-MAT", "ok"]}), encoding="utf-8")
    assert run("new", "e", "--data", str(d / "abstracts.txt"), "--schema", str(d / "bio.json")) == 2
    one_error_line(capsys, "bio.json", "looks like a BIO tag")
    (d / "sp.json").write_text(json.dumps({"labels": ["two words"]}), encoding="utf-8")
    assert run("new", "e", "--data", str(d / "abstracts.txt"), "--schema", str(d / "sp.json")) == 2
    one_error_line(capsys, "sp.json", "whitespace")
    assert snapshot(d / "projects") == []


def test_new_refuses_annotated_data_with_types_outside_the_schema(d, capsys):
    (d / "gold.jsonl").write_text('{"text": "Cu wire", "spans": [{"start": 0, "end": 2, "label": "ELEMENT"}]}\n')
    assert run("new", "g", "--data", str(d / "gold.jsonl"), "--schema", str(d / "schema.json")) == 2
    one_error_line(capsys, "gold.jsonl", "ELEMENT")
    assert snapshot(d / "projects") == []


@pytest.fixture
def proj(d, capsys):
    assert run("new", "abs", "--data", str(d / "abstracts.txt"), "--schema", str(d / "schema.json")) == 0
    capsys.readouterr()
    return d / "projects" / "abs.allabel"


def test_import_matches_by_id_then_by_text_reports_unmatched(d, proj, capsys):
    labels = d / "labels.jsonl"
    labels.write_text(
        # by id (line-1 is the first line of the .txt)
        '{"id": "line-1", "text": "LiFePO4 is a cathode.", "spans": [{"start": 0, "end": 7, "label": "MAT"}]}\n'
        # by text, another id
        '{"id": "x9", "text": "We coated LiFePO4 with carbon.", "spans": [{"start": 10, "end": 17, "label": "MAT"}]}\n'
        '{"id": "zz", "text": "Not in the project.", "spans": []}\n', encoding="utf-8")
    assert run("import", "abs", "--labels", str(labels)) == 0
    out = capsys.readouterr().out
    assert "imported 2 spans on 2 sentences (1 matched by id, 1 by text)" in out and "zz" in out
    p = Project.open(proj)
    assert p.labels.state("line-1") == p.labels.state("line-2") == "confirmed" and p.labels.state("line-4") is None
    assert [(s.text, s.label, s.status) for s in p.labels.spans("line-2")] == [("LiFePO4", "MAT", "confirmed")]
    assert p.labels.undo().action == "import_labels" and p.labels.state("line-1") is None  # one undoable action


def test_import_conll_matches_ignoring_token_spaces(d, proj, capsys):
    conll = d / "l.conll"
    conll.write_text("We\tO\ncoated\tO\nLiFePO4\tB-MAT\nwith\tO\ncarbon\tB-MAT\n.\tO\n", encoding="utf-8")
    assert run("import", "abs", "--labels", str(conll)) == 0
    p = Project.open(proj)
    assert [s.text for s in p.labels.spans("line-2")] == ["LiFePO4", "carbon"]


def test_import_with_types_outside_the_schema_refuses_with_the_list_or_adds(d, proj, capsys):
    labels = d / "new.jsonl"
    labels.write_text('{"text": "Nothing here.", "spans": [{"start": 0, "end": 7, "label": "THING"},'
                      ' {"start": 8, "end": 12, "label": "PLACE"}]}\n', encoding="utf-8")
    before = snapshot(d / "projects")
    assert run("import", "abs", "--labels", str(labels)) == 2
    one_error_line(capsys, "new.jsonl", "THING, PLACE", "--add-types")
    assert snapshot(d / "projects") == before
    assert run("import", "abs", "--labels", str(labels), "--add-types") == 0
    assert "added types THING, PLACE" in capsys.readouterr().out
    p = Project.open(proj)
    assert p.schema.names == ["MAT", "APL", "THING", "PLACE"] and p.labels.state("line-4") == "confirmed"


def test_import_refuses_nothing_matched_unknown_project_and_overlaps(d, proj, capsys):
    before = snapshot(d / "projects")
    (d / "none.jsonl").write_text('{"text": "Elsewhere.", "spans": []}\n', encoding="utf-8")
    assert run("import", "abs", "--labels", str(d / "none.jsonl")) == 2
    one_error_line(capsys, "none of its 1 sentences matches")
    assert run("import", "nope", "--labels", str(d / "none.jsonl")) == 2
    one_error_line(capsys, "no project called 'nope'", "abs")
    (d / "ov.jsonl").write_text('{"text": "Nothing here.", "spans": [{"start": 0, "end": 7, "label": "MAT"},'
                                ' {"start": 3, "end": 12, "label": "APL"}]}\n', encoding="utf-8")
    assert run("import", "abs", "--labels", str(d / "ov.jsonl")) == 2
    one_error_line(capsys, "overlap")
    assert snapshot(d / "projects") == before


def test_library_import_and_find(d, proj):
    p = Project.open(proj)
    with pytest.raises(MissingTypesError) as err:
        p.import_labels(read_corpus_text(d, '{"text": "Nothing here.", "spans": [{"start": 0, "end": 7, "label": "X"}]}'))
    assert err.value.missing == ["X"]
    with pytest.raises(ProjectError, match="the projects there: abs"):
        find_project("other")
    assert find_project("abs") == proj


def read_corpus_text(d, line: str):
    f = d / "one.jsonl"
    f.write_text(line + "\n", encoding="utf-8")
    return read_corpus(f)
