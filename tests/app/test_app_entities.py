"""The Entities page (predict the rest, the entity table, downloads), the
Label page's "least certain first" order and "accept prediction", and the
Map's "predicted entities" colouring, driven with AppTest. What was saved is
read from a freshly opened Project."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from allabel_core.views import figures as F
from allabel_core.views.project_data import map_coloring
from allabel_core.data.corpus import Corpus
from allabel_core.project.export import export_sentences
from allabel_core.project import Project, create_project
from allabel_core.data.sentence import Sentence

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "s1": "LiFePO4 cathodes deliver high capacity.",
    "s2": "Graphene improves conductivity.",
    "s3": "We coated LiFePO4 with carbon.",
    "s4": "Graphene sheets were stacked.",
    "s5": "Nothing here at all.",
    "s6": "The capacity of LiFePO4 fades.",
}
SCHEMA = {"labels": [{"name": "MAT", "description": "a material", "color": "#E69F00"},
                     {"name": "PRO", "description": "a property", "color": "#56B4E9"}]}


@pytest.fixture
def small(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ALLABEL_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    pool = Corpus([Sentence.from_text(i, t) for i, t in TEXTS.items()])
    p = create_project("Small", pool, schema=SCHEMA, projects_dir=tmp_path / "projects")
    for sid, spans in (("s1", [(0, 7, "MAT"), (30, 38, "PRO")]), ("s2", [(0, 8, "MAT"), (18, 30, "PRO")])):
        for a, b, lab in spans:
            p.labels.add_span(sid, a, b, lab)
        p.labels.confirm(sid)
    p.close()
    return p.path


def page(path: Path, script: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=120)
    at.session_state["project_path"] = str(path)
    at.session_state["annotator"] = "Ada"
    return at.run()


def table(at: AppTest):
    """The entity table as shown (the first of the page's two tables)."""
    return at.dataframe[0].value


def predicted(path: Path, timeout: float = 120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with Project.open(path) as p:
            got = p.records.rest_predictions()
        if len(got) == len(TEXTS) - 2:
            return got
        time.sleep(0.5)
    raise AssertionError("predict the rest did not finish")


def test_entities_page_predicts_the_rest_and_shows_every_entity(small):
    at = page(small, "pages/6_Entities.py")
    assert not at.exception
    assert at.button(key="entities_predict").label == "Predict the rest (4 sentences)"
    at.button(key="entities_predict").click().run()
    stored = predicted(small)
    at.run()
    assert not at.exception
    assert at.session_state["entities_include"] == "all"
    shown = table(at)
    with Project.open(small) as p:
        want = export_sentences(p, "all").table()
    assert shown[["sentence_id", "start", "end", "label", "source"]].values.tolist() == \
        want[["sentence_id", "start", "end", "label", "source"]].values.tolist()
    human = shown[shown["source"] == "human"]
    assert sorted(human["text"]) == ["Graphene", "LiFePO4", "capacity", "conductivity"]
    model = shown[shown["source"] != "human"]
    assert len(model) == sum(len(r.prediction.spans) for r in stored.values())
    at.multiselect(key="entities_labels").set_value(["PRO"]).run()
    assert set(table(at)["label"]) <= {"PRO"}
    at.radio(key="entities_include").set_value("confirmed").run()
    assert set(table(at)["source"]) == {"human"}


def test_label_page_least_certain_first_and_accept_prediction(small):
    with Project.open(small) as p:
        from allabel_core.predictors.knn import KnnPredictor
        from allabel_core.project.rest import least_certain_first, predict_rest
        from allabel_core.vectors.embed import Embedder

        predict_rest(p, Embedder(), KnnPredictor(Embedder()))
        order = least_certain_first(p)
        rest = p.records.rest_predictions()
    doubts = [rest[s].prediction.uncertainty for s in order]
    assert doubts == sorted(doubts, reverse=True) and len(order) == 4
    at = page(small, "pages/2_Label.py")
    at.radio(key="label_order").set_value("uncertainty").run()
    assert not at.exception
    first = order[0]
    assert at.session_state["current_id"] == first
    at.button(key="label_accept_prediction").click().run()
    with Project.open(small) as p:
        assert p.labels.state(first) == "confirmed"
        assert [sp.key() for sp in p.labels.spans(first, ("confirmed",))] == [sp.key() for sp in rest[first].prediction.spans]
        assert at.session_state["current_id"] == order[1]
        p.labels.undo()  # one action: spans and state back together
        assert p.labels.state(first) is None and p.labels.spans(first) == []


def test_map_colours_by_predicted_entities(small):
    groups = F.predicted_groups(["a", "b", "c", "d"], ["a"], {"b": ["PRO", "MAT", "PRO"], "c": []}, ["MAT", "PRO"])
    assert groups == [F.CONFIRMED_GROUP, "PRO", F.NO_ENTITY, F.NOT_PREDICTED]
    assert F.predicted_groups(["b"], [], {"b": ["PRO", "MAT"]}, ["MAT", "PRO"]) == ["MAT"]  # tie: schema order
    with Project.open(small) as p:
        p.records.save_projection(p.pool_ids(), np.arange(12, dtype=float).reshape(6, 2), {"method": "test"})
        col = map_coloring(p, "predicted entities")
        assert col["groups"][:2] == [F.CONFIRMED_GROUP] * 2 and set(col["groups"][2:]) == {F.NOT_PREDICTED}
        fig = F.map_figure(p.pool_ids(), p.records.projection()[1], list(TEXTS.values()), **col)
    assert {t.name.split(" (")[0] for t in fig.data} == {F.CONFIRMED_GROUP, F.NOT_PREDICTED}


def test_a_second_run_says_it_updates_only_what_changed(small):
    at = page(small, "pages/6_Entities.py")
    at.button(key="entities_predict").click().run()
    predicted(small)
    for _ in range(20):  # the job ends just after its last batch is stored
        at.run()
        if at.success:
            break
        time.sleep(0.5)
    assert at.button(key="entities_predict").label == "Update the predictions (4 sentences; only what changed)"
    assert any("predicted 4 of 4 sentences" in s.value for s in at.success)
