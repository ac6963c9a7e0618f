"""The project store: persistence after every action, undo, queue, secrets, offsets."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from allabel_core.project import core as project_mod
from allabel_core.data.corpus import Corpus
from allabel_core.errors import ConfigError, EmptyPoolError, ProjectError
from allabel_core.predictors.base import Prediction
from allabel_core.data.schema import from_utf16, utf16_offset
from allabel_core.project import (
    Project,
    SpanError,
    create_project,
    create_sample_project,
    list_projects,
)
from allabel_core.data.sentence import Sentence, Span

SCHEMA = {"labels": [
    {"name": "MAT", "description": "a material", "color": "#E69F00"},
    {"name": "PRO", "description": "a property", "color": "#56B4E9"},
]}
TEXTS = {
    "s1": "LiFePO4 cathodes show a capacity of 160 mAh g−1.",
    "s2": "We coated LiFePO4 with carbon to raise the conductivity.",
    "s3": "The 𝛼-phase of LiFePO4x differs from LiFePO4.",
    "s4": "Nothing to see here.",
    "s5": "Conductivity of LiFePO4 rises with carbon.",
}


def make_pool() -> Corpus:
    sents = [Sentence.from_text(i, t) for i, t in TEXTS.items()]
    sents[0] = sents[0].with_spans([(0, 7, "MAT")])  # gold
    return Corpus(sents)


@pytest.fixture
def proj(tmp_path) -> Project:
    p = Project.create(tmp_path / "p.allabel", make_pool(), schema=SCHEMA, name="test")
    yield p
    p.close()


def reopened(p: Project) -> Project:
    """A second, independent view of the file (the first stays open)."""
    return Project.open(p.path)


def test_create_open_resume(tmp_path):
    target = Corpus([Sentence.from_text("t1", "LiCoO2 is layered.", [(0, 6, "MAT")])])
    p = Project.create(tmp_path / "a.allabel", make_pool(), target, SCHEMA, name="Battery run")
    assert p.name == "Battery run" and p.schema.names == ["MAT", "PRO"]
    assert p.schema.color("PRO") == "#56B4E9"
    assert len(p) == 5 and p.pool_ids() == list(TEXTS)
    assert p.settings["budget"] == 1  # 10 % of 5, at least 1
    p.selections.record([0, 1], "diversity")
    p.labels.add_span("s1", 0, 7, "MAT")
    p.selections.set_current("s2")
    p.close()
    q = Project.open(tmp_path / "a.allabel")
    assert q.selections.current() == "s2"
    assert q.labels.spans("s1") == [Span(0, 7, "MAT", "LiFePO4", "confirmed")]
    assert q.selections.queue() == ["s1", "s2"]
    assert [s.id for s in q.target()] == ["t1"] and q.target()[0].spans[0].status == "gold"
    q.close()


def test_gold_kept_apart_from_the_persons_layer(proj):
    assert proj.pool()[0].spans == ()  # gold never shows as the person's
    assert proj.gold()[0].spans == (Span(0, 7, "MAT", "LiFePO4", "gold"),)
    assert proj.has_gold() and proj.target() is None
    assert len(proj.annotated()) == 0


@pytest.mark.parametrize("action", [
    "add", "remove", "set_label", "suggest", "accept", "reject", "confirm", "skip", "apply", "undo", "current",
])
def test_every_action_is_durable_at_once(proj, action):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.labels.suggest("s2", [(10, 17, "MAT"), (44, 56, "PRO")])
    do = {
        "add": lambda: proj.labels.add_span("s1", 24, 32, "PRO"),
        "remove": lambda: proj.labels.remove_span("s1", 0, 7),
        "set_label": lambda: proj.labels.set_label("s1", 0, 7, "PRO"),
        "suggest": lambda: proj.labels.suggest("s5", [(16, 23, "MAT")]),
        "accept": lambda: proj.labels.accept_suggestions("s2"),
        "reject": lambda: proj.labels.reject_suggestion("s2", 10, 17),
        "confirm": lambda: proj.labels.confirm("s1"),
        "skip": lambda: proj.labels.skip("s4"),
        "apply": lambda: proj.labels.apply_to_identical("LiFePO4", "MAT"),
        "undo": lambda: proj.labels.undo(),
        "current": lambda: proj.selections.set_current("s3"),
    }
    do[action]()
    expected = ([s.to_dict() for s in proj.pool()], proj.labels.states(), proj.selections.current())
    other = reopened(proj)  # the first connection is still open and was never closed
    got = ([s.to_dict() for s in other.pool()], other.labels.states(), other.selections.current())
    other.close()
    assert got == expected
    # and a plain SQLite reader sees the same rows
    raw = sqlite3.connect(proj.path)
    n = raw.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    raw.close()
    assert n == sum(len(s.spans) for s in proj.pool())


def test_killed_process_loses_nothing(tmp_path):
    path = tmp_path / "k.allabel"
    Project.create(path, make_pool(), schema=SCHEMA).close()
    script = textwrap.dedent(f"""
        import os, signal
        from allabel_core.project import Project
        p = Project.open({str(path)!r})
        p.labels.add_span("s2", 10, 17, "MAT")
        p.labels.confirm("s2")
        p.selections.set_current("s3")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -9
    p = Project.open(path)
    assert p.labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "confirmed")]
    assert p.labels.state("s2") == "confirmed" and p.selections.current() == "s3"
    p.close()


def test_span_validation(proj):
    with pytest.raises(SpanError, match="outside"):
        proj.labels.add_span("s1", 0, 999, "MAT")
    with pytest.raises(SpanError, match="not in the schema"):
        proj.labels.add_span("s1", 0, 7, "ORG")
    with pytest.raises(SpanError, match="not 'LiCoO2'"):
        proj.labels.add_span("s1", 0, 7, "MAT", text="LiCoO2")
    with pytest.raises(SpanError, match="whitespace"):
        proj.labels.add_span("s1", 0, 8, "MAT")
    with pytest.raises(ProjectError, match="no pool sentence"):
        proj.labels.add_span("nope", 0, 1, "MAT")
    proj.labels.add_span("s1", 0, 7, "MAT")
    assert proj.labels.add_span("s1", 0, 7, "MAT").status == "confirmed"  # same span again: no-op
    with pytest.raises(SpanError, match="overlaps 'LiFePO4'"):
        proj.labels.add_span("s1", 0, 16, "MAT")
    assert len(proj.labels.history()) == 1


def test_confirmed_span_replaces_overlapping_suggestions(proj):
    proj.labels.suggest("s2", [(10, 17, "PRO"), (23, 29, "MAT")])
    proj.labels.add_span("s2", 10, 29, "MAT")
    assert proj.labels.spans("s2") == [Span(10, 29, "MAT", "LiFePO4 with carbon", "confirmed")]
    proj.labels.undo()
    assert [s.status for s in proj.labels.spans("s2")] == ["suggested", "suggested"]


def test_suggestions_never_count_until_accepted(proj):
    proj.labels.suggest("s2", [(10, 17, "MAT"), (10, 22, "MAT"), (0, 2, "ORG")])  # overlap and unknown label dropped
    assert proj.labels.spans("s2") == [Span(10, 22, "MAT", "LiFePO4 with", "suggested")]
    assert proj.progress()["confirmed_spans"] == 0 and len(proj.annotated()) == 0
    proj.labels.accept_suggestions("s2")
    proj.labels.confirm("s2")
    ann = proj.annotated()
    assert [s.id for s in ann] == ["s2"] and ann[0].spans[0].status == "confirmed"


def test_confirm_rejects_pending_suggestions_and_zero_entity_sentence_counts(proj):
    proj.labels.suggest("s2", [(10, 17, "MAT")])
    assert proj.labels.confirm("s2") == 0
    assert proj.labels.spans("s2") == [] and proj.labels.state("s2") == "confirmed"
    proj.labels.confirm("s4")
    assert [s.id for s in proj.annotated()] == ["s2", "s4"]
    assert proj.progress()["confirmed"] == 2
    proj.labels.undo()
    proj.labels.undo()
    assert proj.labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "suggested")] and proj.labels.states() == {}


def test_undo_walks_back_every_kind_of_action(proj):
    snapshots = []

    def snap():
        snapshots.append(([s.to_dict() for s in proj.pool()], proj.labels.states()))

    snap()
    steps = [
        lambda: proj.labels.add_span("s1", 0, 7, "MAT"),
        lambda: proj.labels.set_label("s1", 0, 7, "PRO"),
        lambda: proj.labels.suggest("s2", [(10, 17, "MAT")]),
        lambda: proj.labels.reject_suggestion("s2", 10, 17),
        lambda: proj.labels.apply_to_identical("LiFePO4", "MAT"),
        lambda: proj.labels.accept_suggestions("s5"),
        lambda: proj.labels.remove_span("s1", 0, 7),
        lambda: proj.labels.confirm("s1"),
        lambda: proj.labels.skip("s4"),
    ]
    for step in steps:
        step()
        snap()
    undone = []
    for expected in reversed(snapshots[:-1]):
        undone.append(proj.labels.undo().action)
        assert ([s.to_dict() for s in proj.pool()], proj.labels.states()) == expected
    assert undone == ["skip", "confirm", "remove_span", "accept_suggestions", "apply_to_identical",
                      "reject_suggestion", "suggest", "set_label", "add_span"]
    assert proj.labels.undo() is None
    # undo is stored too: a reopened project does not undo twice
    assert reopened(proj).labels.undo() is None


def test_undo_restores_span_under_its_own_id_after_new_spans(proj):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.labels.remove_span("s1", 0, 7)
    proj.labels.add_span("s2", 10, 17, "MAT")
    proj.labels.undo()
    proj.labels.undo()
    assert proj.labels.spans("s1") == [Span(0, 7, "MAT", "LiFePO4", "confirmed")] and proj.labels.spans("s2") == []


def test_apply_to_identical(proj):
    proj.labels.add_span("s1", 0, 7, "MAT")
    proj.labels.confirm("s1")
    proj.labels.add_span("s5", 16, 23, "PRO")  # an existing span is never overwritten
    n = proj.labels.apply_to_identical("LiFePO4", "MAT")
    # s2 once; s3 once (not inside "LiFePO4x"); s1 is confirmed: untouched; s5 already has a span there
    assert n == 2
    assert proj.labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "suggested")]
    assert [(s.start, s.text) for s in proj.labels.spans("s3")] == [(37, "LiFePO4")]
    assert proj.labels.spans("s1") == [Span(0, 7, "MAT", "LiFePO4", "confirmed")]
    assert proj.labels.spans("s5") == [Span(16, 23, "PRO", "LiFePO4", "confirmed")]
    assert proj.labels.apply_to_identical("LiFePO4", "MAT") == 0  # idempotent
    assert proj.labels.undo().summary["added"] == 2  # an empty apply is no undo step: the first one is undone
    assert proj.labels.spans("s2") == []
    with pytest.raises(SpanError):
        proj.labels.apply_to_identical(" LiFePO4", "MAT")


def test_apply_to_identical_with_like_wildcards_and_astral(proj):
    assert proj.labels.apply_to_identical("𝛼", "PRO") == 1
    assert proj.labels.spans("s3") == [Span(4, 5, "PRO", "𝛼", "suggested")]
    assert proj.labels.apply_to_identical("g−1", "PRO") == 1
    assert proj.labels.apply_to_identical("%", "PRO") == 0


def test_queue_order_skip_and_navigation(proj):
    proj.selections.enqueue(["s5"])
    proj.selections.record([{"id": "s4", "score": 0.9, "reason": {"why": "uncertain"}}], "uncertainty")
    proj.selections.record([{"index": 1, "score": 3.0, "reason": {"covers": 4}}], "S")
    proj.selections.record([2, 0], "D")
    assert proj.selections.record([2], "similarity") == 0  # selected once
    assert proj.selections.queue() == ["s3", "s1", "s2", "s4", "s5"]
    df = proj.selections.table()
    assert list(df["sentence_id"]) == ["s5", "s4", "s2", "s3", "s1"]
    assert df.loc[df.sentence_id == "s2", "reason"].item() == {"covers": 4}
    assert df.loc[df.sentence_id == "s2", "index"].item() == 1
    proj.labels.confirm("s3")
    proj.labels.skip("s1")
    assert proj.selections.queue() == ["s2", "s4", "s5", "s1"]
    assert proj.selections.queue(include_done=True) == ["s3", "s1", "s2", "s4", "s5"]
    assert proj.selections.next_id("s3") == "s2"
    assert proj.selections.next_id("s5") == "s2"  # wraps
    assert proj.selections.previous_id("s2") == "s1" and proj.selections.previous_id("s3") is None
    proj.set_settings(stage_order=["similarity", "diversity", "uncertainty"])
    assert proj.selections.queue(include_done=True) == ["s2", "s3", "s1", "s4", "s5"]
    for sid in ("s2", "s4", "s5"):
        proj.labels.confirm(sid)
    assert proj.selections.next_id("s5") == "s1"  # only the skipped one is left
    proj.labels.confirm("s1")
    assert proj.selections.next_id("s1") is None
    p = proj.progress()
    assert (p["selected"], p["confirmed"], p["pending"], p["skipped"]) == (5, 5, 0, 0)
    assert proj.selections.clear("manual") == 1 and proj.selections.queue(include_done=True)[-1] == "s4"


def test_bad_selection_names_the_problem(proj):
    with pytest.raises(ProjectError, match="no pool sentence"):
        proj.selections.record(["nope"], "diversity")
    with pytest.raises(ProjectError, match="index"):
        proj.selections.record([99], "diversity")
    with pytest.raises(ConfigError, match="stage"):
        proj.selections.record([0])


def test_creation_is_atomic(tmp_path, monkeypatch):
    with pytest.raises(EmptyPoolError):
        Project.create(tmp_path / "e.allabel", Corpus([]))
    with pytest.raises(ConfigError, match="ORG"):
        Project.create(tmp_path / "l.allabel", Corpus([Sentence.from_text("x", "IBM", [(0, 3, "ORG")])]), schema=SCHEMA)
    real_build = project_mod._build

    def failing_build(tmp, *args, **kw):
        real_build(tmp, *args, **kw)
        assert Path(tmp).exists()
        raise OSError("disk full")

    monkeypatch.setattr(project_mod, "_build", failing_build)
    with pytest.raises(OSError, match="disk full"):
        Project.create(tmp_path / "f.allabel", make_pool(), schema=SCHEMA)
    monkeypatch.setattr(project_mod, "_build", real_build)

    def failing_link(src, dst):
        raise PermissionError("read-only folder")

    monkeypatch.setattr(project_mod.os, "link", failing_link)
    with pytest.raises(PermissionError):
        Project.create(tmp_path / "g.allabel", make_pool(), schema=SCHEMA)
    assert list(tmp_path.iterdir()) == []


def test_create_takes_settings_including_the_budget(tmp_path):
    p = Project.create(tmp_path / "b.allabel", make_pool(), schema=SCHEMA, settings={"budget": 3, "k": 7})
    assert p.settings["budget"] == 3 and p.settings["k"] == 7
    p.close()


def test_create_refuses_to_overwrite(proj):
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(proj.path, make_pool(), schema=SCHEMA)


def test_open_rejects_other_files(tmp_path):
    junk = tmp_path / "junk.allabel"
    junk.write_text("not sqlite")
    with pytest.raises(ProjectError):
        Project.open(junk)
    with pytest.raises(ProjectError, match="no project"):
        Project.open(tmp_path / "missing.allabel")
    (info,) = list_projects(tmp_path)
    assert info.error


def test_api_key_never_reaches_the_file(tmp_path, monkeypatch):
    env_key = "sk-envkey-0123456789abcdef"
    typed_key = "typed-secret-key-98765"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    p = Project.create(tmp_path / "s.allabel", make_pool(), schema=SCHEMA,
                       settings={"predictor": "openai", "model": "m"})
    p.register_secret(typed_key)
    for bad in ({"api_key": typed_key}, {"llm": {"api_key": typed_key}}, {"model": env_key},
                {"base_url": f"http://u:{typed_key}@h/v1"}, {"openai_api_key": "x"}):
        with pytest.raises(ConfigError):
            p.set_settings(bad)
    with pytest.raises(ConfigError):
        Project.create(tmp_path / "t.allabel", make_pool(), schema=SCHEMA, settings={"api_key": typed_key})
    leak = f"401 Unauthorized: key {typed_key} / {env_key} / sk-abcdefghijklmnopqrstuv"
    p.records.save_predictions([Prediction("s1", (), 0.5, "perplexity", error=leak,
                                   details={"raw": leak, "headers": {"Authorization": f"Bearer {typed_key}"}})], "llm")
    p.records.log_ledger(model="m", base_url=f"https://user:{typed_key}@host:8000/v1?api_key={env_key}",
                 details={"api_key": typed_key, "note": leak})
    p.selections.record([{"index": 0, "score": 1.0, "reason": {"msg": leak}}], "uncertainty")
    p.records.save_curve([{"strategy": "live", "budget": 1, "f1": 0.5, "note": leak}])
    p.records.save_projection(["s1"], [[0.0, 1.0]], {"client": {"api_key": typed_key}})
    assert p.records.ledger()["base_url"].item() == "https://host:8000/v1"
    assert "[redacted]" in p.records.prediction("s1").error
    p.close()
    blob = b"".join(f.read_bytes() for f in tmp_path.iterdir())
    for key in (typed_key, env_key, "sk-abcdefghijklmnopqrstuv"):
        assert key.encode() not in blob


def test_astral_offsets_and_utf16():
    text = "𝛼-Fe2O3 and 𝜇m grains"
    assert utf16_offset(text, 0) == 0 and utf16_offset(text, 1) == 2
    assert utf16_offset(text, len(text)) == len(text.encode("utf-16-le")) // 2
    for i in range(len(text) + 1):
        assert from_utf16(text, utf16_offset(text, i)) == i
    with pytest.raises(ValueError, match="inside"):
        from_utf16(text, 1)
    with pytest.raises(ValueError):
        from_utf16(text, 999)
    with pytest.raises(ValueError):
        utf16_offset(text, -1)


def test_astral_span_round_trip(tmp_path):
    text = "𝛼-Fe2O3 and 𝜇m grains"
    p = Project.create(tmp_path / "a.allabel", Corpus([Sentence.from_text("x", text)]), schema=SCHEMA)
    # a browser selection of "Fe2O3" is UTF-16 [3, 8)
    s, e = from_utf16(text, 3), from_utf16(text, 8)
    span = p.labels.add_span("x", s, e, "MAT")
    assert span.text == "Fe2O3" and (span.start, span.end) == (2, 7)
    p.labels.add_span("x", 12, 14, "PRO")
    p.close()
    q = Project.open(tmp_path / "a.allabel")
    assert [sp.text for sp in q.pool()[0].spans] == ["Fe2O3", "𝜇m"]
    q.close()


def test_two_threads_labeling(proj):
    errors = []

    ends = {"s1": 7, "s2": 2}  # "LiFePO4", "We"

    def worker(sid: str, label: str):
        try:
            for _ in range(25):
                proj.labels.add_span(sid, 0, ends[sid], label)
                proj.labels.remove_span(sid, 0, ends[sid])
            proj.labels.add_span(sid, 0, ends[sid], label)
            proj.labels.confirm(sid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(sid, "MAT")) for sid in ("s1", "s2")]
    threads += [threading.Thread(target=lambda: [proj.progress() for _ in range(50)])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    other = reopened(proj)
    assert other.labels.states() == {"s1": "confirmed", "s2": "confirmed"}
    assert len(other.labels.history(1000)) == 2 * 52
    other.close()


def test_settings(proj):
    assert proj.settings["k"] == 5
    proj.set_settings(k=7, split=[1, 1, 1], base_url="http://localhost:8000/v1", model="qwen")
    assert reopened(proj).settings["k"] == 7
    for bad in ({"k": 0}, {"budget": "ten"}, {"split": [1, 2]}, {"predictor": "gpt"}, {"stage_order": ["x"]}):
        with pytest.raises(ConfigError):
            proj.set_settings(bad)


def test_predictions_ledger_curve_projection(proj):
    preds = [Prediction("s1", (Span(0, 7, "MAT", "LiFePO4", "suggested"),), 0.25, "knn-margin",
                        ("s2", "s5"), (0.5, 0.9), details={"prompt": "p"}),
             Prediction("s2", (), 0.75, "knn-margin", error="timeout")]
    run1 = proj.records.save_predictions(preds, "offline kNN predictor")
    run2 = proj.records.save_predictions(preds[:1], "offline kNN predictor")
    assert run2 == run1 + 1
    df = proj.records.predictions()
    assert len(df) == 2 and df.loc[df.sentence_id == "s1", "run"].item() == run2
    assert len(proj.records.predictions(latest=False)) == 3
    got = proj.records.prediction("s1")
    assert got.spans == preds[0].spans and got.demonstrations == ("s2", "s5") and got.details == {"prompt": "p"}
    assert proj.records.prediction("s4") is None
    proj.records.log_ledger(model="qwen", base_url="http://localhost:8000/v1", prompt_tokens=100, completion_tokens=20, cost=0.01)
    proj.records.log_ledger(model="qwen", base_url="http://localhost:8000/v1", calls=3, cached=True)
    assert proj.records.ledger_totals() == {"calls": 4, "cached_calls": 3, "prompt_tokens": 100, "completion_tokens": 20,
                                    "cost": 0.01}
    proj.records.save_curve([{"strategy": "allabel", "budget": 5, "seed": 0, "f1": 0.5, "per_type": {"MAT": 0.6}}], run="exp")
    proj.records.save_curve([{"strategy": "live", "budget": 1, "f1": float("nan")}, {"strategy": "live", "budget": 2, "f1": 0.4}])
    curve = proj.records.curve_results()
    assert list(curve["strategy"]) == ["allabel", "live", "live"] and curve["per_type"][0] == {"MAT": 0.6}
    assert proj.records.last_f1() == {"run": "live", "strategy": "live", "budget": 2, "f1": 0.4}
    proj.records.save_curve([{"strategy": "allabel", "budget": 0.05, "seed": 1, "f1": 0.55}], run="frac")
    assert proj.records.last_f1()["budget"] == 0.05  # a fraction of the pool stays a fraction
    proj.records.save_curve([{"strategy": "allabel", "budget": 5, "f1": 0.7}], run="exp", replace=True)
    assert len(proj.records.curve_results("exp")) == 1
    assert proj.records.projection() is None
    xy = np.arange(10, dtype=np.float32).reshape(5, 2)
    proj.records.save_projection(proj.pool_ids(), xy, {"method": "umap", "seed": 0})
    ids, got_xy, params = reopened(proj).records.projection()
    assert ids == proj.pool_ids() and np.allclose(got_xy, xy) and params["method"] == "umap"
    with pytest.raises(Exception):
        proj.records.save_projection(["s1"], xy, {})


def test_list_and_create_in_folder(tmp_path):
    a = create_project("My run", make_pool(), schema=SCHEMA, projects_dir=tmp_path)
    b = create_project("My run", make_pool(), schema=SCHEMA, projects_dir=tmp_path)
    assert a.path.name == "my-run.allabel" and b.path.name == "my-run-2.allabel"
    a.labels.add_span("s1", 0, 7, "MAT")
    a.labels.confirm("s1")
    infos = list_projects(tmp_path)
    assert [i.path.name for i in infos][0] == "my-run.allabel" and infos[0].confirmed == 1
    assert infos[0].pool_size == 5 and infos[0].name == "My run"


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "sample_data" / "pool.jsonl").exists(),
                    reason="sample corpus not written yet")
def test_sample_project(tmp_path):
    p = create_sample_project(tmp_path)
    assert len(p) > 0 and set(p.schema.names) >= {"MAT", "PRO", "VAL", "APL", "SMT", "CMT"}
    assert p.target() is not None and p.has_gold() and p.pool()[0].spans_with(("gold",)) == ()
    again = create_sample_project(tmp_path)  # opens the same project
    assert again.path == p.path


def test_create_from_bytes_checks_everything_first(tmp_path):
    from allabel_core.errors import DataFormatError
    from allabel_core.project import create_project_from_bytes

    good = b'{"text": "LiCoO2 is layered.", "spans": [{"start": 0, "end": 6, "label": "MAT"}]}\n'
    bad_target = b'{"text": "x", "spans": [{"start": 0, "end": 9, "label": "MAT"}]}\n'
    with pytest.raises(DataFormatError, match=r"test\.jsonl, line 1"):
        create_project_from_bytes("t", good, "pool.jsonl", target=(bad_target, "test.jsonl"), projects_dir=tmp_path)
    with pytest.raises(DataFormatError, match="limit is 1 MB"):
        create_project_from_bytes("t", good * 60_000, "pool.jsonl", projects_dir=tmp_path, max_bytes=2**20)
    assert list(tmp_path.iterdir()) == []
    p = create_project_from_bytes("", good, "pool.jsonl", projects_dir=tmp_path)
    assert p.name == "pool" and p.gold()[0].spans[0].text == "LiCoO2" and p.target() is None


def test_sentence_view_escapes_and_marks_status():
    from allabel_core.data.schema import Schema
    from allabel_core.views.markup import chip_html, sentence_html, span_from_tokens, span_html

    schema = Schema.from_obj(SCHEMA)
    text = "<b>x</b> & LiFePO4\n\nnext"
    s = Sentence.from_text("x", text).with_spans([(0, 8, "MAT"), (11, 18, "PRO")], status="confirmed")
    s = s.with_spans([s.spans[0], Span(11, 18, "PRO", "LiFePO4", "suggested")])
    out = sentence_html(s, schema)
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>" not in out and "&amp;" in out
    assert "\n" not in out and out.count("<br>") == 2
    assert 'class="allabel-confirmed"' in out and 'class="allabel-suggested"' in out and "dashed" in out
    assert "&lt;b&gt;" in span_html(s.spans[0], schema)
    assert "&lt;" in chip_html("<T>", "javascript:alert(1)") and "javascript" not in chip_html("T", "javascript:1")
    assert span_from_tokens(s, []) is None
    first, last = s.tokens[0], s.tokens[3]
    assert span_from_tokens(s, [3, 0]) == (first.start, last.end)


def test_finished_threads_do_not_keep_connections(proj):
    import gc

    def work():
        proj.progress()

    for _ in range(20):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    gc.collect()
    assert proj._db.open_connections() <= 2  # this thread's, and at most one not yet collected
