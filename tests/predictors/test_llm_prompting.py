"""Versioned prompt templates rendered in a sandbox."""

from __future__ import annotations

import json

import pytest

from allabel_core.errors import ConfigError
from allabel_core.predictors.prompting import (
    PromptTemplate,
    available_versions,
    schema_from,
)
from allabel_core.data.sentence import Sentence

TYPES = schema_from({"MAT": "a material", "PRO": "a property"})


def demo(sid, text, ents):
    spans = [(text.index(e), text.index(e) + len(e), lab) for e, lab in ents]
    return Sentence.from_text(sid, text, spans)


def test_messages_have_system_demos_then_query():
    t = PromptTemplate("ner.v1")
    d1 = demo("a", "ZnO films", [("ZnO", "MAT")])
    d2 = demo("b", "TiO2 band gap", [("TiO2", "MAT"), ("band gap", "PRO")])
    msgs = t.render(TYPES, [d1, d2], "LiFePO4 capacity")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "MAT: a material" in msgs[0]["content"] and "PRO: a property" in msgs[0]["content"]
    assert msgs[1]["content"] == "Sentence: ZnO films"
    assert json.loads(msgs[4]["content"]) == [{"text": "TiO2", "label": "MAT"}, {"text": "band gap", "label": "PRO"}]
    assert msgs[-1]["content"] == "Sentence: LiFePO4 capacity"


def test_object_answer_format_for_json_mode():
    t = PromptTemplate()
    msgs = t.render(TYPES, [demo("a", "ZnO films", [("ZnO", "MAT")])], "x", answer_format="object")
    assert json.loads(msgs[2]["content"]) == {"entities": [{"text": "ZnO", "label": "MAT"}]}
    assert '{"entities"' in msgs[0]["content"]


def test_template_syntax_in_sentences_stays_literal():
    t = PromptTemplate()
    d = demo("a", "the {{ 7*7 }} phase of {% if true %}ZnO{% endif %}", [("ZnO", "MAT")])
    msgs = t.render(TYPES, [d], "query {{ 7*7 }} and {{ config }} {# c #}")
    assert msgs[1]["content"] == "Sentence: the {{ 7*7 }} phase of {% if true %}ZnO{% endif %}"
    assert msgs[-1]["content"] == "Sentence: query {{ 7*7 }} and {{ config }} {# c #}"
    assert "49" not in "".join(m["content"] for m in msgs)


def test_non_ascii_survives_in_demo_answers():
    t = PromptTemplate()
    d = demo("a", "𝛼-Fe2O3 and <nUm> K", [("𝛼-Fe2O3", "MAT")])
    msgs = t.render(TYPES, [d], "q")
    assert msgs[2]["content"] == '[{"text": "𝛼-Fe2O3", "label": "MAT"}]'


def test_templates_are_sandboxed(tmp_path):
    (tmp_path / "evil.v1.jinja").write_text(
        "{% macro system(labels, answer_format) %}{{ labels.__class__.__mro__ }}{% endmacro %}"
        "{% macro user(sentence) %}{{ sentence }}{% endmacro %}"
        "{% macro assistant(answer) %}{{ answer }}{% endmacro %}"
    )
    t = PromptTemplate("evil.v1", tmp_path)
    with pytest.raises(ConfigError, match="failed to render"):
        t.render(TYPES, [], "q")


def test_unknown_or_unsafe_versions_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="available"):
        PromptTemplate("ner.v99")
    with pytest.raises(ConfigError, match="not a valid name"):
        PromptTemplate("../../etc/passwd")
    (tmp_path / "half.v1.jinja").write_text("{% macro system(labels, answer_format) %}x{% endmacro %}")
    with pytest.raises(ConfigError, match="lacks"):
        PromptTemplate("half.v1", tmp_path)


def test_packaged_versions_listed():
    assert "ner.v1" in available_versions()


def test_schema_validation():
    assert [t.name for t in schema_from(["MAT", "PRO"])] == ["MAT", "PRO"]
    with pytest.raises(ConfigError):
        schema_from([])
    with pytest.raises(ConfigError):
        schema_from(["MAT", "MAT"])
    with pytest.raises(ConfigError):
        schema_from(["two words"])


def test_ner_v1_renders_exactly_as_recorded():
    """ner.v1's meaning is frozen: cached answers are keyed by its output.
    A change in wording belongs in ner.v2."""
    t = PromptTemplate("ner.v1")
    msgs = t.render(schema_from({"MAT": "a material", "PRO": ""}), [], "TiO2")
    assert msgs[0]["content"] == (
        "You are an expert annotator for named entity recognition.\n"
        "Find every mention of the following entity types in the sentence you are given.\n\n"
        "Entity types:\n- MAT: a material\n- PRO\n\n"
        "Copy each mention exactly as it is written in the sentence, and use only the entity types listed above.\n"
        'Answer with a JSON list only: [{"text": "<mention>", "label": "<type>"}, ...]. '
        "If there are no entities, answer []."
    )
