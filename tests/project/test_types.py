"""A project's entity types edited through ``project.types``: saved at once, undone by ``project.labels.undo``."""

from __future__ import annotations

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.data.schema import Schema
from allabel_core.data.sentence import Sentence, Span
from allabel_core.errors import SchemaError
from allabel_core.predictors.base import Prediction
from allabel_core.project import Project

TEXTS = {"s1": "LiFePO4 has a capacity of 160 mAh g−1.", "s2": "We coated LiFePO4 with carbon.", "s3": "Nothing here."}


@pytest.fixture
def proj(tmp_path):
    sents = [Sentence.from_text(i, t) for i, t in TEXTS.items()]
    sents[1] = sents[1].with_spans([(10, 17, "MAT")])  # gold
    p = Project.create(tmp_path / "p.allabel", Corpus(sents), schema=["MAT", "PRO"], name="t")
    yield p
    p.close()


def test_a_project_without_types_gets_them_one_by_one(tmp_path):
    p = Project.create(tmp_path / "none.allabel", Corpus([Sentence.from_text(i, t) for i, t in TEXTS.items()]))
    assert p.schema.names == []
    p.types.add("PRO", "a property")
    p.types.add("MAT")
    p.labels.add_span("s1", 0, 7, "MAT")
    again = Project.open(p.path)  # saved at once
    assert again.schema.names == ["PRO", "MAT"] and again.schema.get("PRO").description == "a property"
    assert again.labels.spans("s1")[0].label == "MAT"


def test_rename_relabels_every_span_and_undo_puts_it_back(proj):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.labels.suggest("s2", [(10, 17, "MAT")])  # the gold span is the same text; suggestions live apart
    proj.records.save_predictions([Prediction("s3", (Span(0, 7, "MAT", "Nothing", "suggested"),), 0.5, "margin")], "knn")
    proj.types.rename("MAT", "MATERIAL")
    assert proj.schema.names == ["MATERIAL", "PRO"]
    assert {sp.label for sid in TEXTS for sp in proj.labels.spans(sid)} == {"MATERIAL"}
    assert [sp.label for sp in proj.gold()[1].spans] == ["MATERIAL"]
    assert proj.records.prediction("s3").spans[0].label == "MATERIAL"
    with pytest.raises(SchemaError, match="already a type 'PRO'"):
        proj.types.rename("MATERIAL", "PRO")
    with pytest.raises(Exception, match="not in the schema"):
        proj.labels.add_span("s3", 0, 7, "MAT")
    undone = proj.labels.undo()
    assert undone.action == "rename_type"
    assert proj.schema.names == ["MAT", "PRO"]
    assert proj.labels.spans("s1")[0].label == "MAT" and proj.gold()[1].spans[0].label == "MAT"
    assert proj.records.prediction("s3").spans[0].label == "MAT"


def test_delete_asks_when_spans_exist_and_undo_restores_type_and_spans(proj):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.labels.confirm("s1")
    assert proj.types.usage("MAT") == {"confirmed": 1, "suggested": 0, "gold": 1, "predicted": 0}
    with pytest.raises(SchemaError, match="'MAT' has 1 confirmed, 1 gold spans"):
        proj.types.remove("MAT")
    assert proj.schema.names == ["MAT", "PRO"] and len(proj.labels.spans("s1")) == 1  # unchanged
    proj.types.remove("PRO")  # no spans: no question
    proj.types.remove("MAT", delete_spans=True)
    assert proj.schema.names == [] and proj.labels.spans("s1") == [] and proj.gold()[1].spans == ()
    assert proj.labels.state("s1") == "confirmed"  # the sentence stays annotated
    proj.labels.undo()
    assert proj.schema.names == ["MAT"] and proj.labels.spans("s1")[0].label == "MAT"
    assert proj.gold()[1].spans[0].text == "LiFePO4"
    proj.labels.undo()
    assert proj.schema.names == ["MAT", "PRO"]


def test_every_edit_is_saved_and_undoable(proj):
    proj.types.recolour("PRO", "#000000")
    proj.types.describe("MAT", "a material")
    proj.types.move("PRO", 0)
    proj.types.add("VAL")
    other = Project.open(proj.path)
    assert [(t.name, t.color) for t in other.schema.types][:1] == [("PRO", "#000000")]
    assert other.schema.names == ["PRO", "MAT", "VAL"] and other.schema.get("MAT").description == "a material"
    for action in ("add_type", "move_type", "describe_type", "recolour_type"):
        assert other.labels.undo().action == action
    assert proj.schema == Schema.from_obj(["MAT", "PRO"])
    assert other.labels.undo() is None


def test_merge_and_replace(proj):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.types.merge({"labels": [{"name": "VAL", "description": "a value"}, {"name": "MAT", "description": "a material"}]})
    assert proj.schema.names == ["MAT", "PRO", "VAL"] and proj.schema.get("MAT").description == "a material"
    with pytest.raises(SchemaError, match="drops 'MAT', which has 1 confirmed, 1 gold spans"):
        proj.types.replace(["PRO"])
    proj.types.replace(["MAT", "VAL"])
    assert proj.schema.names == ["MAT", "VAL"]
