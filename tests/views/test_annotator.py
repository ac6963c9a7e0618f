"""The annotator's events mapped to spans, and the props it draws from."""

from __future__ import annotations

import pytest

from allabel_core.project.labels import SpanError
from allabel_core.data.schema import Schema
from allabel_core.data.sentence import Sentence, Span
from allabel_core.views.annotator import (
    Command,
    SpanAction,
    annotator_props,
    gold_check,
    precision_recall,
    resolve_event,
    type_keys,
)

SCHEMA = Schema.from_obj({"labels": [
    {"name": "MAT", "description": "A material", "color": "#0072B2"},
    {"name": "PRO", "description": "A property", "color": "#E69F00"},
    {"name": "VAL", "description": "A value with its unit", "color": "#009E73"},
]})
NAMES = SCHEMA.names


def tok(sentence: Sentence, word: str, nth: int = 0) -> int:
    """Index of the ``nth`` token whose text is ``word``."""
    hits = [i for i, t in enumerate(sentence.tokens) if t.text == word]
    return hits[nth]


def label(first: int, last: int | None = None, name: str = "MAT") -> dict:
    return {"kind": "label", "first": first, "last": first if last is None else last, "label": name}


def with_spans(text: str, *spans: tuple[int, int, str, str]) -> Sentence:
    """A sentence with the person's spans: (start, end, label, status)."""
    base = Sentence.from_text("s1", text)
    return base.with_spans([Span(a, b, lab, text[a:b], st) for a, b, lab, st in spans])


# -- repeated words: the index, never the string, says which ---------------------------
def test_first_of_a_repeated_word_maps_to_its_own_offsets():
    text = "The framework adsorbs CO2 at 1 bar, and its CO2 uptake doubles."
    s = Sentence.from_text("s1", text)
    first, second = tok(s, "CO2", 0), tok(s, "CO2", 1)
    a = resolve_event(label(first), s, NAMES)
    b = resolve_event(label(second), s, NAMES)
    assert a == SpanAction("add", text.index("CO2"), text.index("CO2") + 3, "MAT", "CO2")
    assert (b.start, b.end) == (text.rindex("CO2"), text.rindex("CO2") + 3)
    assert a.start == 22 and b.start == 44


def test_a_drag_over_three_words_gives_one_span_from_first_to_last_in_either_direction():
    text = "Thin films of lithium iron phosphate were annealed."
    s = Sentence.from_text("s1", text)
    i = tok(s, "lithium")
    forward = resolve_event(label(i, i + 2), s, NAMES)
    backward = resolve_event(label(i + 2, i), s, NAMES)
    assert forward == backward
    assert forward.text == "lithium iron phosphate" and text[forward.start:forward.end] == forward.text


# -- punctuation tokens ----------------------------------------------------------------
def test_punctuation_is_its_own_token_and_never_swallowed():
    text = "LiFePO4, a cathode (LFP), was used."
    s = Sentence.from_text("s1", text)
    word = resolve_event(label(tok(s, "LiFePO4")), s, NAMES)
    assert word.text == "LiFePO4" and word.end == 7
    abbr = resolve_event(label(tok(s, "LFP")), s, NAMES)
    assert abbr.text == "LFP"
    # The person may choose to include the brackets; then they are in the span, explicitly.
    bracketed = resolve_event(label(tok(s, "("), tok(s, ")")), s, NAMES)
    assert bracketed.text == "(LFP)"
    comma = resolve_event(label(tok(s, ",")), s, NAMES)
    assert comma.text == "," and comma.start == 7


# -- astral characters: code points in the store, UTF-16 units for the browser ---------
def test_astral_characters_keep_code_point_offsets_and_utf16_slices():
    text = "The 𝛼-Fe2O3 phase has 𝜇 = 3 and 𝛼 again."
    s = Sentence.from_text("s1", text)
    fe = resolve_event(label(tok(s, "Fe2O3")), s, NAMES)
    assert text[fe.start:fe.end] == "Fe2O3" and fe.start == 6  # 𝛼 is one code point
    second_alpha = resolve_event(label(tok(s, "𝛼", 1)), s, NAMES)
    assert text[second_alpha.start:second_alpha.end] == "𝛼" and second_alpha.start == text.rindex("𝛼")

    props = annotator_props(s, SCHEMA, rev=0)
    units = text.encode("utf-16-le")
    for t in props["tokens"]:
        a, b = t["u16"]
        assert units[2 * a:2 * b].decode("utf-16-le") == t["text"] == text[t["start"]:t["end"]]
    assert props["length16"] == len(units) // 2 == len(text) + 3


# -- overlaps, relabel, accept, remove ------------------------------------------------------
def test_a_label_overlapping_an_accepted_span_is_refused_with_a_reason():
    text = "Lithium iron phosphate cathodes were tested."
    s = with_spans(text, (0, 22, "MAT", "confirmed"))
    with pytest.raises(SpanError, match="overlaps the accepted span “Lithium iron phosphate” \\(MAT\\); remove that span first"):
        resolve_event(label(tok(s, "phosphate"), tok(s, "cathodes")), s, NAMES)
    with pytest.raises(SpanError, match="already accepted as MAT"):
        resolve_event(label(0, 2, "MAT"), s, NAMES)


def test_a_label_over_suggestions_replaces_them_and_exact_extents_relabel_or_accept():
    text = "Lithium iron phosphate cathodes have a capacity of 170 mAh g−1."
    s = with_spans(text, (0, 7, "MAT", "suggested"), (39, 47, "PRO", "suggested"), (51, 62, "VAL", "confirmed"))
    wide = resolve_event(label(0, 2, "MAT"), s, NAMES)
    assert wide == SpanAction("add", 0, 22, "MAT", "Lithium iron phosphate")
    cap = tok(s, "capacity")
    assert resolve_event(label(cap, cap, "PRO"), s, NAMES) == SpanAction("accept", 39, 47, "PRO", "capacity")
    assert resolve_event(label(cap, cap, "MAT"), s, NAMES).kind == "relabel"
    val = [i for i, t in enumerate(s.tokens) if t.start == 51][0]
    last = [i for i, t in enumerate(s.tokens) if t.end == 62][0]
    assert resolve_event(label(val, last, "PRO"), s, NAMES) == SpanAction("relabel", 51, 62, "PRO", "170 mAh g−1")


def test_remove_takes_the_one_span_under_the_selection():
    text = "Lithium iron phosphate has a capacity of 170 mAh g−1."
    s = with_spans(text, (0, 22, "MAT", "confirmed"), (29, 37, "PRO", "suggested"))
    inside = resolve_event({"kind": "remove", "first": 1, "last": 1}, s, NAMES)
    assert inside == SpanAction("remove", 0, 22, "MAT", "Lithium iron phosphate")
    with pytest.raises(SpanError, match="touches 2 spans"):
        resolve_event({"kind": "remove", "first": 0, "last": tok(s, "capacity")}, s, NAMES)
    with pytest.raises(SpanError, match="no span under “has”"):
        resolve_event({"kind": "remove", "first": tok(s, "has"), "last": tok(s, "has")}, s, NAMES)


@pytest.mark.parametrize("event, message", [
    ({"kind": "rm -rf"}, "unknown annotator action"),
    ({"kind": "label", "first": True, "last": 1, "label": "MAT"}, "must be a token index"),
    ({"kind": "label", "first": "0", "last": 1, "label": "MAT"}, "must be a token index"),
    ({"kind": "label", "first": 0, "last": 99, "label": "MAT"}, "token 99 does not exist"),
    ({"kind": "label", "first": -1, "last": 0, "label": "MAT"}, "token -1 does not exist"),
    ({"kind": "label", "first": 0, "last": 0, "label": "ORG"}, "type 'ORG' is not in the schema"),
    ("confirm", "an annotator event is an object"),
])
def test_malformed_events_are_refused(event, message):
    s = Sentence.from_text("s1", "TiO2 films were grown.")
    with pytest.raises(SpanError, match=message):
        resolve_event(event, s, NAMES)


def test_commands_pass_through():
    s = Sentence.from_text("s1", "TiO2 films.")
    for kind in ("accept_all", "confirm", "skip", "previous", "undo", "suggest"):
        assert resolve_event({"kind": kind, "first": "ignored"}, s, NAMES) == Command(kind)


# -- props ------------------------------------------------------------------------------
def test_props_carry_token_ranges_honest_words_keys_in_schema_order_and_raw_text():
    text = "Probe <img src=x onerror=alert(1)> in LiFePO4 <script>alert(2)</script>."
    s = with_spans(text, (text.index("LiFePO4"), text.index("LiFePO4") + 7, "MAT", "confirmed"),
                   (0, 5, "PRO", "suggested"))
    schema = Schema.from_obj({"labels": [{"name": "VAL", "color": "#123456"}, {"name": "MAT"},
                                         {"name": "PRO", "description": "A property"}]})
    props = annotator_props(s, schema, rev=7, state="skipped", ack=42,
                            notice={"kind": "error", "text": "nope", "event": 42})
    # Text is handed over as data, unescaped: the browser puts it in with textContent.
    assert props["text"] == text and "<script>" in "".join(t["text"] for t in props["tokens"]) + props["text"]
    assert [t["key"] for t in props["types"]] == ["1", "2", "3"]
    assert [t["name"] for t in props["types"]] == ["VAL", "MAT", "PRO"]
    assert props["types"][2]["description"] == "A property"
    by_label = {sp["label"]: sp for sp in props["spans"]}
    assert by_label["MAT"]["status"] == "accepted" and by_label["PRO"]["status"] == "suggested"
    mat = by_label["MAT"]
    assert s.tokens[mat["first"]].start == mat["start"] and s.tokens[mat["last"]].end == mat["end"]
    assert (props["rev"], props["ack"], props["state"], props["notice"]["event"]) == (7, 42, "skipped", 42)


def test_type_keys_follow_schema_order_up_to_ten():
    schema = Schema.from_obj([f"T{i}" for i in range(12)])
    assert type_keys(schema) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", None, None]


# -- gold check -------------------------------------------------------------------------------
def test_gold_check_lists_missed_added_mistyped_and_counts_like_seqeval_strict():
    from seqeval.metrics import precision_score, recall_score
    from seqeval.scheme import IOB2

    from allabel_core.data.sentence import spans_to_tags

    text = "LiFePO4 cathodes with a capacity of 170 mAh g−1 made by sol-gel synthesis."
    gold = [(0, 7, "MAT"), (24, 32, "PRO"), (36, 47, "VAL"), (56, 73, "SMT")]
    mine = [(0, 7, "MAT"), (24, 32, "VAL"), (36, 39, "VAL"), (8, 16, "APL")]
    check = gold_check(mine, gold)
    assert check.missed == ((36, 47, "VAL"), (56, 73, "SMT"))
    assert check.added == ((8, 16, "APL"), (36, 39, "VAL"))
    assert check.mistyped == (((24, 32, "VAL"), (24, 32, "PRO")),)
    assert (check.tp, check.fp, check.fn) == (1, 3, 3)

    s = Sentence.from_text("s1", text, [*gold, *mine])
    as_tags = lambda spans: spans_to_tags(s.tokens, [Span(a, b, lab, text[a:b]) for a, b, lab in spans])[0]  # noqa: E731
    y_true, y_pred = [as_tags(gold)], [as_tags(mine)]
    p, r = precision_recall(check.tp, check.fp, check.fn)
    assert p == pytest.approx(precision_score(y_true, y_pred, mode="strict", scheme=IOB2))
    assert r == pytest.approx(recall_score(y_true, y_pred, mode="strict", scheme=IOB2))
    data = check.as_data(text)
    assert data["mistyped"] == [{"start": 24, "end": 32, "label": "VAL", "text": "capacity", "gold_label": "PRO"}]


def test_precision_recall_undefined_without_predictions_or_gold():
    assert precision_recall(0, 0, 0) == (None, None)
    assert precision_recall(0, 0, 2) == (None, 0.0)


def test_chip_gloss_is_the_opening_words_of_the_definition():
    from allabel_core.views.annotator import gloss

    assert gloss("A specific material named in the text: a chemical element") == "A specific material named in the text"
    assert gloss("Values such as 3.2 eV, with units") == "Values such as 3.2 eV"
    long = gloss("The numerical value of a property or condition together with its unit, as one span")
    assert long.endswith("…") and len(long) <= 49 and not long[:-1].endswith(" ")
    assert gloss("") == ""
