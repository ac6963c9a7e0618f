"""Entity types: the pure schema rules (names, keys, colours, edits, files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allabel_core.data.schema import PALETTE, Schema, load_schema, name_problem, schema_from_bytes
from allabel_core.errors import SchemaError


@pytest.mark.parametrize("name", ["MAT", "chemical", "B2", "work-of-art", "Cell_line", "Ni.Fe", "酶"])
def test_bio_safe_names_pass(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name, why", [
    ("", "needs a name"), ("   ", "needs a name"), ("two words", "whitespace"), ("a\tb", "whitespace"),
    ("O", "outside"), ("o", "outside"), ("B-MAT", "BIO tag"), ("i-x", "BIO tag"), ("-x", "letters, digits"),
    ("_x", "letters, digits"), ("a/b", "letters, digits"), ("x" * 41, "longer than 40"),
])
def test_bio_unsafe_names_are_refused(name, why):
    assert why in name_problem(name)
    with pytest.raises(SchemaError, match=why):
        Schema().add(name)


def test_add_appends_keys_stay_put_and_colours_come_from_the_palette():
    s = Schema().add("PRO").add("MAT")
    assert s.names == ["PRO", "MAT"]  # never alphabetical
    assert [s.key(n) for n in s.names] == ["1", "2"]
    s2 = s.add("APL")
    assert [s2.key(n) for n in ("PRO", "MAT", "APL")] == ["1", "2", "3"]
    assert [t.color for t in s2.types] == list(PALETTE[:3])
    # the first colour not in use, not the n-th
    s3 = Schema().add("A", color=PALETTE[0]).add("B", color=PALETTE[2]).add("C")
    assert s3.get("C").color == PALETTE[1]
    many = Schema.from_labels(f"T{i}" for i in range(11))
    assert many.key("T9") == "0" and many.key("T10") is None


def test_duplicates_and_rename_onto_existing_are_refused():
    s = Schema().add("MAT").add("PRO")
    with pytest.raises(SchemaError, match="already a type 'MAT'"):
        s.add("MAT")
    with pytest.raises(SchemaError, match="only in case"):
        s.add("mat")
    with pytest.raises(SchemaError, match="already a type 'PRO'"):
        s.rename("MAT", "PRO")
    with pytest.raises(SchemaError, match="no type 'XYZ'"):
        s.rename("XYZ", "ABC")
    assert s.rename("MAT", "mat").names == ["mat", "PRO"]  # a change of case of itself is fine


def test_move_recolour_describe_remove():
    s = Schema.from_labels(["A", "B", "C"])
    assert s.move("C", 0).names == ["C", "A", "B"]
    assert s.move("A", 99).names == ["B", "C", "A"]
    assert s.recolour("B", "#123abc").get("B").color == "#123ABC"
    with pytest.raises(SchemaError, match="#RRGGBB"):
        s.recolour("B", "red")
    assert s.describe("A", "  a thing ").get("A").description == "a thing"
    assert s.remove("B").names == ["A", "C"]


def test_merge_adds_missing_types_in_order_and_fills_empty_definitions():
    mine = Schema().add("MAT", "").add("PRO", "my property")
    theirs = Schema.from_obj({"labels": [{"name": "VAL", "description": "a value"},
                                         {"name": "PRO", "description": "their property"},
                                         {"name": "MAT", "description": "a material"}]})
    out = mine.merge(theirs)
    assert out.names == ["MAT", "PRO", "VAL"]
    assert out.get("MAT").description == "a material" and out.get("PRO").description == "my property"


def test_schema_files(tmp_path):
    f = tmp_path / "schema.json"
    f.write_text(json.dumps({"labels": [{"name": "MAT"}, {"name": "MAT"}]}))
    with pytest.raises(SchemaError, match=r"schema.json: schema label 2: there is already a type 'MAT'"):
        load_schema(f)
    f.write_text(json.dumps({"labels": [{"name": "B-MAT"}]}))
    with pytest.raises(SchemaError, match="schema.json: schema label 1: 'B-MAT' looks like a BIO tag"):
        load_schema(f)
    f.write_text('{"labels": [\n  {"name": "MAT",}\n]}')
    with pytest.raises(SchemaError, match="schema.json, line 2: not JSON"):
        load_schema(f)
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "missing.json")
    with pytest.raises(SchemaError, match='a schema is'):
        schema_from_bytes(b'{"types": []}', "s.json")
    sample = load_schema(Path(__file__).resolve().parents[2] / "sample_data" / "schema.json")
    assert sample.names == ["MAT", "PRO", "VAL", "APL", "SMT", "CMT"]
    assert Schema.from_obj(json.loads(sample.to_json())) == sample
