"""The store's per-rerun queries use indexes (EXPLAIN QUERY PLAN of the SQL
the methods really run), and older files get the indexes when opened."""

from __future__ import annotations

import re
import sqlite3

import pytest

from allabel_core.data.corpus import Corpus
from allabel_core.data.sentence import Sentence
from allabel_core.predictors.base import Prediction
from allabel_core.project import Actor, Project
from allabel_core.project.db import INDEXES

# Tables that grow with the pool or with the work done on it: reading one of
# them whole to answer for one sentence, or to count, is what must not happen.
BIG = ("sentences", "spans", "gold_spans", "sentence_state", "predictions", "history", "revisions")
N = 3000


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    sents = [Sentence.from_text(f"s{i}", f"LiFePO4 sample {i} was annealed.", [(0, 7, "MAT")]) for i in range(N)]
    p = Project.create(tmp_path_factory.mktemp("idx") / "p.allabel", Corpus(sents), schema=["MAT", "PRO"])
    me = Actor("ada", "s")
    p.selections.record([f"s{i}" for i in range(0, N, 10)], "diversity")
    for i in range(0, 300, 10):
        p.labels.add_span(f"s{i}", 0, 7, "MAT", actor=me)
        p.labels.confirm(f"s{i}", actor=me)
    p.labels.suggest("s5", [(0, 7, "MAT")])
    p.labels.skip("s25", actor=me)
    prov = {"provenance": {"fingerprint": "f", "source": "knn"}}
    p.records.save_predictions([Prediction(f"s{i}", (), 0.5, "knn-margin", (), (), None, prov) for i in range(N)], "knn")
    yield p
    p.close()


def traced(p: Project, fn) -> list[str]:
    """The SELECT statements ``fn`` runs on this thread's connection."""
    seen: list[str] = []
    conn = p._db.conn()
    conn.set_trace_callback(lambda sql: seen.append(re.sub(r"\s+", " ", sql.strip())))
    try:
        fn()
    finally:
        conn.set_trace_callback(None)
    return [s for s in seen if s.upper().startswith("SELECT")]


_NOT_ALIAS = {"WHERE", "JOIN", "LEFT", "INNER", "ON", "ORDER", "GROUP", "LIMIT", "USING"}


def tables(sql: str) -> dict[str, str]:
    """Name or alias -> table, for the tables a statement reads (plans name a table by its alias)."""
    out = {}
    for table, alias in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", sql, flags=re.I):
        out[table] = table
        if alias and alias.upper() not in _NOT_ALIAS:
            out[alias] = table
    return out


def full_reads(p: Project, statements: list[str]) -> list[tuple[str, str]]:
    """``(statement, plan step)`` for each step that reads a big table without an index."""
    bad = []
    conn = sqlite3.connect(p.path)
    try:
        for sql in statements:
            names = tables(sql)
            for *_, detail in conn.execute("EXPLAIN QUERY PLAN " + sql):
                m = re.match(r"SCAN (\w+)", detail)
                if m and names.get(m.group(1), m.group(1)) in BIG and "INDEX" not in detail:
                    bad.append((sql, detail))
    finally:
        conn.close()
    return bad


KEY_READS = {
    "progress counts": lambda p: p.progress(),
    "one sentence's spans, state, revision": lambda p: (p.sentence("s7"), p.labels.state("s7"), p.labels.revision("s7")),
    "one sentence's gold": lambda p: p.gold_spans("s7"),
    "how a sentence was picked": lambda p: p.selections.get("s10"),
    "the confirms, for scores against gold": lambda p: p.labels.history(None, action="confirm"),
    "one stored prediction": lambda p: (p.records.rest_prediction("s7"), p.records.prediction("s7")),
    "the confirmed sentences": lambda p: p.annotated(),
    "the sentences with suggestions": lambda p: p.labels.with_suggestions(),
}


@pytest.mark.parametrize("what", list(KEY_READS))
def test_key_reads_use_an_index(project, what):
    statements = traced(project, lambda: KEY_READS[what](project))
    assert statements, "nothing was read"
    assert full_reads(project, statements) == []


def test_the_plans_name_the_new_indexes(project):
    conn = sqlite3.connect(project.path)
    plans = {sql: " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)) for sql in (
        "SELECT COUNT(*) FROM sentence_state WHERE state = 'confirmed'",
        "SELECT COUNT(DISTINCT sentence_id) FROM spans WHERE status = 'suggested'",
        "SELECT status, COUNT(*) FROM spans WHERE label = 'MAT' GROUP BY status",
        "SELECT COUNT(*) FROM gold_spans WHERE label = 'MAT'",
        "SELECT seq FROM history WHERE action = 'confirm' ORDER BY seq DESC",
    )}
    conn.close()
    for sql, plan in plans.items():
        assert "USING COVERING INDEX" in plan or "USING INDEX" in plan, (sql, plan)
        assert not re.search(r"\bSCAN (sentence_state|spans|gold_spans|history)\b(?! USING)", plan), (sql, plan)


def test_an_older_file_gets_the_indexes_when_opened(tmp_path):
    p = Project.create(tmp_path / "old.allabel", Corpus([Sentence.from_text("a", "One.")]))
    p.close()
    with sqlite3.connect(p.path) as conn:
        for name, _ in INDEXES:
            conn.execute(f"DROP INDEX {name}")
    q = Project.open(p.path)
    have = {r[0] for r in q._db.conn().execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {name for name, _ in INDEXES} <= have
    q.close()


def test_what_the_indexed_reads_return(project):
    assert project.labels.with_suggestions() == ["s5"]
    prog = project.progress()
    assert (prog["confirmed"], prog["skipped"], prog["suggested_sentences"], prog["confirmed_spans"]) == (30, 1, 1, 30)
    assert [s.id for s in project.annotated()] == [f"s{i}" for i in range(0, 300, 10)]
    assert project.records.rest_prediction("s7").source == "knn" and project.records.rest_prediction("nope") is None
    assert project.types.usage("MAT") == {"confirmed": 30, "suggested": 1, "gold": N, "predicted": 0}
