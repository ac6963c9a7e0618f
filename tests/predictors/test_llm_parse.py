"""Tolerant parsing of LLM answers and grounding them in the sentence."""

from __future__ import annotations

import pytest

from allabel_core.predictors.parse import (
    ground,
    label_lookup,
    normalise_label,
    parse_and_ground,
    parse_answer,
)
from allabel_core.data.sentence import Sentence

LABELS = ["MAT", "PRO", "SMT"]


@pytest.mark.parametrize(
    "reply",
    [
        '[{"text": "TiO2", "label": "MAT"}]',
        '```json\n[{"text": "TiO2", "label": "MAT"}]\n```',
        '```\n[{"text": "TiO2", "label": "MAT"}]\n```\nThat is all.',
        'Here are the entities:\n[{"text": "TiO2", "label": "MAT"}]\nHope this helps! [1]',
        '[{"text": "TiO2", "label": "MAT"},]',
        "[{'text': 'TiO2', 'label': 'MAT'}]",
        '{"entities": [{"text": "TiO2", "label": "MAT"}]}',
        '{"text": "TiO2", "label": "MAT"}',
        '{"MAT": ["TiO2"]}',
        '[["TiO2", "MAT"]]',
        '[{"entity": "TiO2", "type": "MAT"}]',
        '[{"text": "TiO2", "label": "MAT"}, {"text": "ann',
    ],
)
def test_parse_accepts_near_json(reply):
    parsed = parse_answer(reply)
    assert parsed.ok, parsed.problem
    assert parsed.items[0] == ("TiO2", "MAT")


def test_cut_short_answer_keeps_complete_objects_and_says_so():
    parsed = parse_answer('[{"text": "TiO2", "label": "MAT"}, {"text": "ZnO", "label": "MAT"}, {"text": "ann')
    assert parsed.ok and parsed.salvaged
    assert parsed.items == (("TiO2", "MAT"), ("ZnO", "MAT"))


@pytest.mark.parametrize("reply", ["", "   ", None, "I could not find any entities.", "[{", "<html>oops</html>"])
def test_unreadable_answers_are_not_ok(reply):
    parsed = parse_answer(reply)
    assert not parsed.ok
    assert parsed.items == ()
    assert parsed.problem


def test_empty_list_is_a_valid_answer():
    for reply in ("[]", '{"entities": []}', "```json\n[]\n```"):
        parsed = parse_answer(reply)
        assert parsed.ok and parsed.items == ()


def test_malformed_items_are_counted():
    parsed = parse_answer('[{"text": "TiO2", "label": "MAT"}, {"text": "ZnO"}, 42, {"label": "PRO"}]')
    assert parsed.items == (("TiO2", "MAT"),)
    assert parsed.malformed_items == 3


def test_apostrophes_in_prose_do_not_break_parsing():
    parsed = parse_answer("Here's the list: [{\"text\": \"Ohm's law\", \"label\": \"PRO\"}]")
    assert parsed.items == (("Ohm's law", "PRO"),)


def test_label_normalisation():
    lookup = label_lookup(["MAT", "creative-work"])
    assert normalise_label("mat", lookup) == "MAT"
    assert normalise_label("  Mat ", lookup) == "MAT"
    assert normalise_label("B-MAT", lookup) == "MAT"
    assert normalise_label("creative work", lookup) == "creative-work"
    assert normalise_label("Creative_Work", lookup) == "creative-work"
    assert normalise_label("MATERIAL", lookup) is None


def sent(text: str) -> Sentence:
    return Sentence.from_text("s", text)


def test_ground_exact_then_case_insensitive():
    s = sent("Graphene and graphene oxide were mixed.")
    g = ground(s, [("graphene oxide", "MAT"), ("GRAPHENE", "MAT")], LABELS)
    got = [(sp.text, sp.start, sp.end) for sp in g.spans]
    # "GRAPHENE" has no exact match: case-insensitively it matches both
    # occurrences, but the second lies inside "graphene oxide", placed first.
    assert got == [("Graphene", 0, 8), ("graphene oxide", 13, 27)]
    assert g.counts["spans"] == 2


def test_exact_match_is_preferred_to_case_insensitive():
    s = sent("Si wafers and si-based gels")
    g = ground(s, [("Si", "MAT")], LABELS)
    assert [(sp.start, sp.end) for sp in g.spans] == [(0, 2)]


def test_every_occurrence_is_labelled():
    s = sent("TiO2 films on TiO2 substrates, then more TiO2.")
    g = ground(s, [("TiO2", "MAT")], LABELS)
    assert [sp.start for sp in g.spans] == [0, 14, 41]
    assert all(sp.status == "suggested" and sp.label == "MAT" for sp in g.spans)


def test_repeated_mentions_in_answer_are_deduplicated():
    s = sent("TiO2 and TiO2")
    g = ground(s, [("TiO2", "MAT"), ("TiO2", "MAT"), ("TiO2", "mat")], LABELS)
    assert len(g.spans) == 2
    assert g.counts["entities"] == 3 and g.counts["overlapping"] == 0


def test_invented_labels_and_ungrounded_spans_are_counted():
    s = sent("ZnO films were annealed.")
    g = ground(s, [("ZnO", "MATERIAL"), ("annealed", "SMT"), ("CdTe", "MAT"), ("", "MAT")], LABELS)
    assert [sp.text for sp in g.spans] == ["annealed"]
    assert g.counts["invented_labels"] == 1
    assert g.counts["ungrounded"] == 2
    assert {d["why"] for d in g.dropped} == {"label not in schema", "not found in the sentence"}


def test_astral_characters_before_the_entity_keep_offsets_right():
    text = "In the 𝛼 phase, 𝜇-TiO2 shows a band gap."
    s = sent(text)
    g = ground(s, [("TiO2", "MAT"), ("band gap", "PRO")], LABELS)
    for sp in g.spans:
        assert text[sp.start : sp.end] == sp.text
    assert [sp.text for sp in g.spans] == ["TiO2", "band gap"]
    assert g.spans[0].start == text.index("TiO2")  # code points: 𝛼 and 𝜇 count one each


def test_mid_token_match_snaps_to_token_edges():
    s = sent("LiFePO4 cathodes")
    g = ground(s, [("LiFePO", "MAT")], LABELS)
    assert [sp.text for sp in g.spans] == ["LiFePO4"]
    assert g.counts["snapped"] == 1


def test_aligned_occurrence_preferred_over_one_inside_a_word():
    s = sent("Ti and TiO2 and Ti-6Al-4V")
    g = ground(s, [("Ti", "MAT")], LABELS)
    # "Ti" stands alone at 0 and inside Ti-6Al-4V (a token of its own there),
    # but never as a slice of "TiO2".
    assert [(sp.start, sp.end) for sp in g.spans] == [(0, 2), (16, 18)]


def test_overlap_conflict_is_counted():
    s = sent("sol-gel synthesis")
    g = ground(s, [("sol-gel synthesis", "SMT"), ("sol-gel", "MAT")], LABELS)
    assert [sp.text for sp in g.spans] == ["sol-gel synthesis"]
    assert g.counts["overlapping"] == 1


def test_whitespace_inside_entity_is_flexible():
    s = Sentence.from_tags("s", ["La2", "CuO4", "films"], ["O", "O", "O"])[0]
    g = ground(s, [("La2  CuO4", "MAT")], LABELS)
    assert [sp.text for sp in g.spans] == ["La2 CuO4"]


def test_template_syntax_in_text_is_just_text():
    s = sent("the {{ 7*7 }} sample of TiO2")
    g = ground(s, [("{{ 7*7 }}", "MAT"), ("TiO2", "MAT")], LABELS)
    assert [sp.text for sp in g.spans] == ["{{ 7*7 }}", "TiO2"]


def test_parse_and_ground_counts_unparseable():
    s = sent("TiO2")
    parsed, g = parse_and_ground("sorry, no JSON", s, LABELS)
    assert not parsed.ok
    assert g.counts["unparseable"] == 1 and g.counts["answers"] == 1 and g.spans == []


def test_spans_round_trip_through_bio():
    s = sent("ZnO nanorods by sol-gel synthesis")
    _, g = parse_and_ground('[{"text": "ZnO", "label": "MAT"}, {"text": "sol-gel synthesis", "label": "SMT"}]', s, LABELS)
    tagged = s.with_spans(g.spans, status="suggested")
    assert tagged.tags() == ["B-MAT", "O", "O", "B-SMT", "I-SMT", "I-SMT", "I-SMT"]
