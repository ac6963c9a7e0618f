"""Several annotators on one project: who did what and when, revisions that
refuse stale actions, undo of one's own actions only, scores against gold."""

from __future__ import annotations

import sqlite3

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.project import Actor, Project, SpanError, StaleError
from allabel_core.data.sentence import Sentence, Span
from allabel_core.views.annotator import annotator_scores

TEXTS = [
    "LiFePO4 cathodes deliver 170 mAh g−1.",
    "Anatase TiO2 has a band gap of 3.2 eV.",
    "ZIF-8 films were grown by spin coating.",
]
GOLD = {"t0": [(0, 7, "MAT"), (25, 36, "VAL")], "t1": [(8, 12, "MAT"), (19, 27, "PRO")], "t2": [(0, 5, "MAT")]}
ALICE, BOB = Actor("alice", "tab-a"), Actor("bob", "tab-b")


@pytest.fixture()
def project(tmp_path):
    pool = Corpus([
        Sentence.from_text(f"t{i}", text, [Span(a, b, lab, text[a:b]) for a, b, lab in GOLD[f"t{i}"]])
        for i, text in enumerate(TEXTS)
    ])
    p = Project.create(tmp_path / "p.allabel", pool, schema=["MAT", "PRO", "VAL"])
    yield p
    p.close()


def test_every_change_bumps_the_sentence_revision_undo_included(project):
    assert project.labels.revision("t0") == 0
    project.labels.add_span("t0", 0, 7, "MAT", actor=ALICE)
    r1 = project.labels.revision("t0")
    project.labels.confirm("t0", actor=ALICE)
    r2 = project.labels.revision("t0")
    project.labels.undo(actor=ALICE)
    r3 = project.labels.revision("t0")
    assert 0 < r1 < r2 < r3 and project.labels.revision("t1") == 0
    assert project.labels.last_change("t0")["annotator"] == "alice" and project.labels.last_change("t0")["session"] == "tab-a"


def test_an_action_on_a_stale_revision_is_refused_and_changes_nothing(project):
    seen = project.labels.revision("t0")
    project.labels.add_span("t0", 0, 7, "MAT", actor=BOB, expect_rev=seen)  # Bob, first: fine
    before = (project.labels.spans("t0"), len(project.labels.history(None)))
    for act in (
        lambda: project.labels.add_span("t0", 25, 36, "VAL", actor=ALICE, expect_rev=seen),
        lambda: project.labels.remove_span("t0", 0, 7, actor=ALICE, expect_rev=seen),
        lambda: project.labels.set_label("t0", 0, 7, "PRO", actor=ALICE, expect_rev=seen),
        lambda: project.labels.confirm("t0", actor=ALICE, expect_rev=seen, lead_time=3.0),
        lambda: project.labels.skip("t0", actor=ALICE, expect_rev=seen),
        lambda: project.labels.accept_suggestions("t0", actor=ALICE, expect_rev=seen),
        lambda: project.labels.suggest("t0", [(25, 36, "VAL")], actor=ALICE, expect_rev=seen),
    ):
        with pytest.raises(StaleError, match="this sentence changed in another tab — reloaded"):
            act()
    assert (project.labels.spans("t0"), len(project.labels.history(None))) == before
    # At the current revision the same action goes through.
    project.labels.add_span("t0", 25, 36, "VAL", actor=ALICE, expect_rev=project.labels.revision("t0"))
    assert len(project.labels.spans("t0")) == 2


def test_history_records_who_from_where_and_the_lead_time(project):
    project.labels.add_span("t1", 8, 12, "MAT", actor=ALICE)
    project.labels.confirm("t1", actor=ALICE, lead_time=12.5)
    project.labels.skip("t2", actor=BOB, lead_time=4.0)
    project.labels.add_span("t0", 0, 7, "MAT")  # the library without an actor: unknown, recorded as such
    rows = project.labels.history(None)
    assert [(r["action"], r["annotator"], r["session"], r["lead_time"]) for r in rows] == [
        ("add_span", None, None, None), ("skip", "bob", "tab-b", 4.0),
        ("confirm", "alice", "tab-a", 12.5), ("add_span", "alice", "tab-a", None)]
    confirm = project.labels.history(None, action="confirm", annotator="alice")[0]
    assert confirm["summary"]["answer"] == [[8, 12, "MAT"]] and confirm["created_at"] > 0


def test_undo_takes_back_your_own_newest_action_only(project):
    project.labels.add_span("t0", 0, 7, "MAT", actor=ALICE)
    project.labels.confirm("t0", actor=ALICE)
    project.labels.add_span("t1", 8, 12, "MAT", actor=BOB)
    undone = project.labels.undo(actor=ALICE)  # Alice's confirm, not Bob's newer span
    assert (undone.action, undone.sentence_id) == ("confirm", "t0")
    assert project.labels.state("t0") is None and [s.text for s in project.labels.spans("t1")] == ["TiO2"]
    assert project.labels.undo(actor=ALICE).action == "add_span"
    assert project.labels.undo(actor=ALICE) is None  # nothing of Alice's left
    assert [s.text for s in project.labels.spans("t1")] == ["TiO2"]
    assert project.labels.undo(actor=BOB).action == "add_span" and project.labels.spans("t1") == []


def test_undo_is_refused_when_someone_else_changed_the_sentence_since(project):
    project.labels.add_span("t0", 0, 7, "MAT", actor=ALICE)
    project.labels.add_span("t0", 25, 36, "VAL", actor=BOB)
    with pytest.raises(SpanError, match="followed by bob's change to that sentence"):
        project.labels.undo(actor=ALICE)
    assert len(project.labels.spans("t0")) == 2
    project.labels.undo(actor=BOB)
    assert project.labels.undo(actor=ALICE).action == "add_span" and project.labels.spans("t0") == []


def test_a_file_from_before_annotators_is_migrated_on_open(tmp_path, project):
    project.labels.add_span("t0", 0, 7, "MAT")
    project.close()
    conn = sqlite3.connect(project.path)
    for col in ("annotator", "session", "lead_time"):
        conn.execute(f"ALTER TABLE history DROP COLUMN {col}")
    conn.execute("DROP TABLE revisions")
    conn.commit()
    conn.close()
    p = Project.open(project.path)
    try:
        assert [r["annotator"] for r in p.labels.history(None)] == [None]
        p.labels.confirm("t0", actor=ALICE, lead_time=2.0)
        assert p.labels.history(1)[0]["annotator"] == "alice" and p.labels.revision("t0") > 0
        assert p.labels.undo(actor=ALICE).action == "confirm"
    finally:
        p.close()


def test_running_precision_recall_per_annotator_against_gold(project):
    gold = lambda sid: [(s.start, s.end, s.label) for s in project.gold_spans(sid)]  # noqa: E731
    # Alice: t0 fully right; t1 one right, one mistyped.
    project.labels.add_span("t0", 0, 7, "MAT", actor=ALICE)
    project.labels.add_span("t0", 25, 36, "VAL", actor=ALICE)
    project.labels.confirm("t0", actor=ALICE)
    project.labels.add_span("t1", 8, 12, "MAT", actor=ALICE)
    project.labels.add_span("t1", 19, 27, "VAL", actor=ALICE)
    project.labels.confirm("t1", actor=ALICE)
    # Bob confirms t2 with no span: one miss, nothing predicted.
    project.labels.confirm("t2", actor=BOB)
    scores = annotator_scores(project.labels.history(None, action="confirm"), gold)
    assert scores["alice"] == {"sentences": 2, "tp": 3, "fp": 1, "fn": 1, "precision": 0.75, "recall": 0.75}
    assert scores["bob"] == {"sentences": 1, "tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0}
    # An undone confirm no longer counts.
    project.labels.undo(actor=BOB)
    assert "bob" not in annotator_scores(project.labels.history(None, action="confirm"), gold)


def test_apply_event_says_what_happened_and_passes_the_predictor_s_word_on(project):
    from allabel_core.project.annotate import apply_event

    ev = {"id": 7, "sid": "t2", "rev": 0}
    warned = apply_event(project, {**ev, "kind": "suggest"}, ALICE,
                         suggest=lambda sid: ("warning", f"the answer for {sid} was cut short; no suggestion"))
    assert warned.notice == {"kind": "warning", "text": "the answer for t2 was cut short; no suggestion", "event": 7}
    none = apply_event(project, {**ev, "kind": "suggest"}, ALICE)
    assert none.notice["kind"] == "error" and "no predictor" in none.notice["text"]
    assert apply_event(project, {**ev, "kind": "accept_all"}, ALICE).notice["text"] == \
        "There are no suggested spans to accept."
    assert apply_event(project, {**ev, "kind": "undo"}, ALICE).notice["text"] == "Nothing of yours to undo."
    skipped = apply_event(project, {**ev, "kind": "skip"}, ALICE, lead_time=2.0)
    assert skipped.notice["text"].startswith("Skipped t2") and project.labels.state("t2") == "skipped"
    assert apply_event(project, {**ev, "kind": "skip"}, ALICE).notice["text"] == \
        "this sentence changed in another tab — reloaded"  # rev 0 is no longer t2's revision
