"""The entity-type editor and the project in the URL, driven through the widgets with AppTest.

Each check of what was saved opens the file again: "saved" means "on disk".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from allabel_core.data.corpus import Corpus
from allabel_core.project import Actor, Project, create_project
from allabel_core.project.annotate import apply_event
from allabel_core.data.sentence import Sentence

ROOT = Path(__file__).resolve().parents[2]
TXT = b"LiFePO4 cathodes deliver high capacity.\nWe coated LiFePO4 with carbon.\n\nGraphene improves conductivity.\n"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALLABEL_OPEN_SAMPLE", raising=False)
    return tmp_path


def app(script: str = "app.py", *, path: Path | None = None, url: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=60)
    if path is not None:
        at.session_state["project_path"] = str(path)
    if url is not None:
        at.query_params["project"] = url
    return at.run()


def add_type(at: AppTest, name: str, definition: str = "") -> None:
    at.text_input(key="schema_add_name").set_value(name)
    at.text_input(key="schema_add_definition").set_value(definition)
    at.button(key="schema_add").click().run()
    assert not at.exception


def test_txt_project_without_types_label_page_shows_the_editor_then_labels(dirs):
    home = app()
    home.file_uploader(key="home_upload").upload("abstracts.txt", TXT)
    home.run()
    home.button(key="home_create").click().run()
    assert not home.exception and not home.error
    path = Path(home.session_state["project_path"])
    assert home.query_params["project"] == path.stem
    assert home.text_input(key="schema_add_name")  # offered right after creating: no types yet
    add_type(home, "APL", "an application")
    assert home.text_input(key="schema_name_APL")  # the editor stays for the next type
    assert home.button(key="home_types_done").disabled is False
    home.button(key="home_types_done").click().run()
    assert "schema_add_name" not in [w.key for w in home.text_input]  # done: Home goes on to the next step
    Project.open(path).labels.undo()  # start the Label page from no types again

    label = app("pages/2_Label.py", path=path)
    assert not label.exception  # no crash on a project without types
    assert any("no entity types yet" in i.value for i in label.info), (label.info, label.error, label.session_state["project_path"])
    add_type(label, "MAT", "a material")
    add_type(label, "PRO", "a property")
    p = Project.open(path)
    assert p.schema.names == ["MAT", "PRO"] and p.schema.get("MAT").description == "a material"
    assert p.schema.types[0].color != p.schema.types[1].color
    p.selections.enqueue(["line-1"])  # as the Map would
    p.close()

    label.button(key="label_types_done").click().run()  # the annotator replaces the editor
    label.text_input(key="label_annotator_name").set_value("Ada")  # asked once, before the first sentence
    label.button(key="label_annotator_start").click().run()
    assert not label.exception
    shown = json.loads(label.get("bidi_component")[0].proto.json)
    assert [(t["name"], t["key"]) for t in shown["types"]] == [("MAT", "1"), ("PRO", "2")]  # keys in schema order
    assert shown["sid"] == "line-1"
    first = next(t["i"] for t in shown["tokens"] if t["text"] == "LiFePO4")
    base = {"sid": shown["sid"], "rev": shown["rev"]}
    p = Project.open(path)
    me = Actor("Ada", "t")
    assert apply_event(p, {**base, "id": 1, "kind": "label", "first": first, "last": first, "label": "MAT"}, me).notice is None
    apply_event(p, {**base, "id": 2, "rev": p.labels.revision("line-1"), "kind": "confirm"}, me)
    p = Project.open(path)
    assert [(s.text, s.label) for s in p.labels.spans("line-1")] == [("LiFePO4", "MAT")] and p.labels.state("line-1") == "confirmed"


@pytest.fixture
def typed(dirs) -> Path:
    pool = Corpus([Sentence.from_text("s1", "LiFePO4 has a high capacity."), Sentence.from_text("s2", "Nothing here.")])
    p = create_project("Typed", pool, schema=["MAT", "PRO"], projects_dir=dirs / "projects")
    p.labels.add_span("s1", 0, 7, "MAT")
    p.close()
    return p.path


def test_settings_editor_renames_recolours_reorders_and_undoes(typed):
    at = app("pages/5_Settings.py", path=typed)
    assert not at.exception
    at.text_input(key="schema_name_MAT").set_value("MATERIAL").run()
    p = Project.open(typed)
    assert p.schema.names == ["MATERIAL", "PRO"] and p.labels.spans("s1")[0].label == "MATERIAL"
    # a rename onto an existing name: one clear message, nothing changed
    at.text_input(key="schema_name_PRO").set_value("MATERIAL").run()
    assert any("already a type 'MATERIAL'" in e.value for e in at.error)
    assert Project.open(typed).schema.names == ["MATERIAL", "PRO"]
    assert at.text_input(key="schema_name_PRO").value == "PRO"
    at.color_picker(key="schema_color_PRO").pick("#112233").run()
    at.button(key="schema_down_MATERIAL").click().run()
    p = Project.open(typed)
    assert p.schema.names == ["PRO", "MATERIAL"] and p.schema.get("PRO").color == "#112233"
    at.text_area(key="schema_def_PRO").input("a property of a material").run()
    assert Project.open(typed).schema.get("PRO").description == "a property of a material"
    for _ in range(4):
        at.button(key="schema_undo").click().run()
    p = Project.open(typed)
    assert p.schema.names == ["MAT", "PRO"] and p.labels.spans("s1")[0].label == "MAT" and not p.schema.get("PRO").description
    assert at.text_input(key="schema_name_MAT").value == "MAT"  # the widgets show what undo restored


def test_settings_delete_asks_with_the_count_and_undo_brings_spans_back(typed):
    at = app("pages/5_Settings.py", path=typed)
    at.button(key="schema_delete_PRO").click().run()  # no spans: no question
    assert Project.open(typed).schema.names == ["MAT"]
    at.button(key="schema_delete_MAT").click().run()
    assert any("has 1 confirmed span" in w.value for w in at.warning)
    assert Project.open(typed).schema.names == ["MAT"]  # asked, not done
    at.button(key="schema_delete_confirm").click().run()
    p = Project.open(typed)
    assert p.schema.names == [] and p.labels.spans("s1") == []
    at.button(key="schema_undo").click().run()
    p = Project.open(typed)
    assert p.schema.names == ["MAT"] and p.labels.spans("s1")[0].text == "LiFePO4"


def test_settings_imports_types_from_schema_json_and_from_an_annotated_file(typed):
    at = app("pages/5_Settings.py", path=typed)
    at.file_uploader(key="schema_import_file").upload(
        "schema.json", b'{"labels": [{"name": "VAL", "description": "a value"}, {"name": "MAT"}]}')
    at.run()
    at.button(key="schema_import").click().run()
    assert Project.open(typed).schema.names == ["MAT", "PRO", "VAL"]
    at.file_uploader(key="schema_import_file").upload(
        "gold.jsonl", b'{"text": "Cu at 5 K", "spans": [{"start": 0, "end": 2, "label": "ELEMENT"}]}\n')
    at.run()
    at.button(key="schema_import").click().run()
    assert Project.open(typed).schema.names == ["MAT", "PRO", "VAL", "ELEMENT"]
    at.file_uploader(key="schema_import_file").upload("schema.json", b'{"labels": [{"name": "B-X"}]}')
    at.run()
    at.button(key="schema_import").click().run()
    assert any("looks like a BIO tag" in e.value for e in at.error)
    assert Project.open(typed).schema.names == ["MAT", "PRO", "VAL", "ELEMENT"]


def test_settings_label_import_offers_to_add_missing_types(typed):
    at = app("pages/5_Settings.py", path=typed)
    at.file_uploader(key="settings_import_labels").upload(
        "done.jsonl", b'{"id": "s2", "text": "Nothing here.", "spans": [{"start": 0, "end": 7, "label": "THING"}]}\n')
    at.run()
    at.button(key="settings_import").click().run()
    assert any("THING" in w.value for w in at.warning)
    assert Project.open(typed).labels.state("s2") is None  # nothing imported yet
    at.button(key="settings_import_add_types_go").click().run()
    p = Project.open(typed)
    assert p.schema.names == ["MAT", "PRO", "THING"] and p.labels.state("s2") == "confirmed"
    assert p.labels.spans("s2")[0].label == "THING"


def test_project_in_the_url_survives_a_new_session_and_wins_over_the_sample(typed, monkeypatch):
    first = app("pages/2_Label.py", path=typed)
    assert first.query_params["project"] == typed.stem
    monkeypatch.setenv("ALLABEL_OPEN_SAMPLE", "1")
    again = app(url=typed.stem)  # a reload: a new session with only the URL
    assert not again.exception
    assert again.session_state["project_path"] == str(typed)
    assert any(s.value == "Typed" for s in again.subheader)
    assert not (typed.parent / "sample.allabel").exists()  # the URL won over ALLABEL_OPEN_SAMPLE
    label = app("pages/2_Label.py", url=typed.stem)
    assert label.session_state["project_path"] == str(typed) and not label.exception
    assert label.query_params["project"] == typed.stem


def test_unknown_project_in_the_url_says_so_and_lists_what_exists(typed):
    at = app(url="nope")
    errors = [e.value for e in at.error]
    assert errors and "no project called 'nope'" in errors[0] and typed.stem in errors[0]
    assert at.session_state["project_path"] is None and "project" not in at.query_params
    label = app("pages/2_Label.py", url="nope")
    assert any("no project called 'nope'" in e.value for e in label.error)


def test_home_csv_upload_chooses_the_text_column_and_splits(dirs):
    home = app()
    csv = b'pmid,abstract\n11,"LiFePO4 is a cathode. It was coated with carbon."\n12,Nothing here.\n'
    home.file_uploader(key="home_upload").upload("papers.csv", csv)
    home.run()
    assert home.selectbox(key="home_upload_text_column").options == ["pmid", "abstract"]
    home.selectbox(key="home_upload_text_column").set_value("abstract")
    home.checkbox(key="home_upload_split").check()
    home.run()
    home.button(key="home_create").click().run()
    assert not home.exception and not home.error
    p = Project.open(home.session_state["project_path"])
    assert [p.sentence(i).text for i in p.pool_ids()] == [
        "LiFePO4 is a cathode.", "It was coated with carbon.", "Nothing here."]


def test_home_empty_csv_says_so_and_creates_nothing(dirs):
    home = app()
    home.file_uploader(key="home_upload").upload("empty.csv", b"")
    home.run()
    assert any("empty.csv" in e.value and "empty" in e.value for e in home.error)
    home.button(key="home_create").click().run()
    assert any("empty.csv" in e.value for e in home.error)
    assert home.session_state["project_path"] is None and not list((dirs / "projects").glob("*.allabel"))
