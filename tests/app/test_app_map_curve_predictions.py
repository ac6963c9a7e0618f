"""The Map, Curve and Predictions pages through Streamlit's AppTest.

A small project (80 pool and 20 target sentences of the sample corpus, plus
one XSS probe) keeps this fast. AppTest cannot draw a lasso; in Streamlit
1.67 a keyed ``st.plotly_chart(on_select="rerun")`` takes its selection
state from ``at.session_state[key]``, the same dict the browser sends (a
``selection`` with ``points`` holding per-trace indices and ``customdata``).
The tests build that dict from the chart the page actually rendered, so the
page path from event to queued ids is exercised as in the browser.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "pages"
PROBE = "Probe <img src=x onerror=alert(1)> with LiFePO4 <script>alert(2)</script> cathodes."


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    """One embedding/projection cache for the module (the embedder is cached
    per process by Streamlit), and its own projects folder."""
    root = tmp_path_factory.mktemp("app")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLABEL_CACHE_DIR", str(root / "cache"))
        mp.setenv("ALLABEL_PROJECTS_DIR", str(root / "projects"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield root


@pytest.fixture
def project(caches, request):
    from allabel_core.data.corpus import Corpus
    from allabel_core.formats import read_corpus
    from allabel_core.data.schema import load_schema
    from allabel_core.project import create_project
    from allabel_core.data.sentence import Sentence

    data = ROOT / "sample_data"
    pool = read_corpus(data / "pool.jsonl")[:80]
    probe = Sentence.from_text("xss", PROBE, [(PROBE.index("LiFePO4"), PROBE.index("LiFePO4") + 7, "MAT")])
    pool = Corpus([*pool, probe])
    target = read_corpus(data / "test.jsonl")[:20]
    p = create_project(request.node.name[:40], pool, target, load_schema(data / "schema.json"))
    p.set_settings(budget=10)
    yield p
    p.close()


def app(page: str, project):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / page), default_timeout=120)
    at.session_state["project_path"] = str(project.path)
    return at


def wait_job(kind: str, project, timeout: float = 300):
    from allabel_core.dashboard import state as app_state

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = app_state.get_jobs().get(f"{kind}:{project.path}")
        if job is not None:
            assert job.wait(deadline - time.time()), f"{kind} job did not finish"
            assert job.state == "done", job.error
            return job
        time.sleep(0.1)
    raise AssertionError(f"no {kind} job started")


def confirm_gold(project, ids):
    gold = {s.id: s for s in project.gold()}
    for sid in ids:
        for sp in gold[sid].spans:
            project.labels.add_span(sid, sp.start, sp.end, sp.label)
        project.labels.confirm(sid)


def decode(array):
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=float)


def chart_spec(at, key="map_chart"):
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    return json.loads(chart.proto.spec)


def lasso_event(spec, inside):
    """The selection state the browser sends for a lasso around the points
    for which ``inside(x, y)`` holds (indices restart in every trace)."""
    points = []
    for c, trace in enumerate(spec["data"]):
        if "customdata" not in trace:
            continue
        for k, (x, y) in enumerate(zip(decode(trace["x"]), decode(trace["y"]))):
            if inside(x, y):
                points.append({"curve_number": c, "point_number": k, "point_index": k, "x": float(x), "y": float(y),
                               "customdata": trace["customdata"][k]})
    return {"selection": {"points": points, "point_indices": [p["point_index"] for p in points], "box": [],
                          "lasso": [{"xref": "x", "yref": "y", "x": [0, 1, 1], "y": [0, 0, 1]}]}}


def rendered_map(project):
    at = app("1_Map.py", project).run()
    assert not at.exception
    if not at.get("plotly_chart"):
        assert at.get("progress"), "the map page shows progress while the layout is computed"
        wait_job("map", project)
        at.run()
    assert not at.exception and at.get("plotly_chart")
    return at


def test_map_page_renders_the_projection_with_ids(project):
    at = rendered_map(project)
    spec = chart_spec(at)
    ids = [i for t in spec["data"] for i in t.get("customdata", [])]
    assert sorted(ids) == sorted(project.pool_ids())
    assert project.records.projection() is not None  # laid out once, kept in the project
    hover = next(h for t in spec["data"] for i, h in zip(t["customdata"], t["hovertext"]) if i == "xss")
    assert "<img" not in hover and "&lt;img src=x onerror=alert(1)&gt;" in hover
    assert [b.key for b in at.button] == ["map_run_diversity", "map_run_similarity", "map_run_uncertainty", "map_run_all"]


def test_lasso_selection_queues_the_right_ids(project):
    at = rendered_map(project)
    spec = chart_spec(at)
    xs = np.concatenate([decode(t["x"]) for t in spec["data"]])
    cx = float(np.median(xs))
    event = lasso_event(spec, lambda x, y: x < cx)
    want = [p["customdata"] for p in event["selection"]["points"]]
    assert 10 < len(want) < len(project)
    at.session_state["map_chart"] = event
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert sorted(table["id"]) == sorted(want)
    at.button(key="map_enqueue").click().run()
    assert not at.exception
    assert sorted(project.selections.queue()) == sorted(want)
    sel = project.selections.table()
    assert set(sel["stage"]) == {"manual"} and sorted(sel["sentence_id"]) == sorted(want)
    assert any("Queued" in t.value for t in at.toast)
    spec = chart_spec(at)  # the map drawn in the same run shows them as picked by hand
    manual = next(t for t in spec["data"] if t["name"].startswith("manual"))
    assert sorted(manual["customdata"]) == sorted(want)


def test_one_selected_sentence_draws_lines_to_its_demonstrations(project):
    ids = project.pool_ids()
    confirm_gold(project, ids[:7])
    at = rendered_map(project)
    spec = chart_spec(at)
    one = lasso_event(spec, lambda x, y: True)
    one["selection"]["points"] = [p for p in one["selection"]["points"] if p["customdata"] == ids[20]]
    at.session_state["map_chart"] = one
    at.run()
    assert not at.exception
    spec = chart_spec(at)
    (lines,) = [t for t in spec["data"] if t.get("name") == "retrieved demonstrations"]
    # One segment per demonstration: k = 5 (the project setting) of the 7 confirmed sentences.
    assert list(lines["x"]).count(None) == project.settings["k"] == 5


def test_stage_buttons_record_picks_with_reasons(project):
    at = rendered_map(project)
    at.button(key="map_run_all").click().run()
    wait_job("stages", project)
    at.run()
    assert not at.exception
    sel = project.selections.table()
    assert sel["stage"].value_counts().to_dict() == {"similarity": 6, "diversity": 2, "uncertainty": 2}
    assert all(r.get("why") for r in sel["reason"])
    # A static table, so long sentences and reasons wrap instead of being cut off.
    why = next(d.value for d in at.table if "reason" in d.value.columns)
    assert len(why) == 10 and why["reason"].str.len().min() > 10
    texts = dict(zip(project.pool_ids(), project.pool().texts))
    assert list(why["sentence"]) == [texts[i] for i in why["id"]]
    # Nothing confirmed yet: stage 3 says it had nothing to retrieve, not "uncertainty 1.000" ten times.
    cold = why[why["stage"] == "uncertainty"]
    assert len(cold) == 2 and cold["score"].isna().all()
    assert all(r.startswith("cold start: no labels yet — picked within the shortlist by coverage") for r in cold["reason"])
    assert not why["reason"].str.contains("uncertainty 1.000").any()
    spec = chart_spec(at)
    names = [t["name"].split(" (")[0] for t in spec["data"]]
    assert {"diversity", "similarity", "uncertainty", "not selected", "just added"} <= set(names)
    at.button(key="map_run_diversity").click().run()  # the quota is spent: nothing more is added
    wait_job("stages", project)
    assert len(project.selections.table()) == 10


def test_curve_page_runs_the_experiment_and_shows_results(project):
    at = app("3_Curve.py", project).run()
    assert not at.exception
    at.multiselect(key="curve_strategies").set_value(["random", "allabel", "full"])
    at.text_input(key="curve_budgets").set_value("0.1,0.2")
    at.number_input(key="curve_seeds").set_value(2)
    at.button(key="curve_run").click().run()
    job = wait_job("curve", project)
    assert len(job.results) == 9  # 2 strategies x 2 budgets x 2 seeds + the ceiling
    at.run()
    assert not at.exception
    spec = chart_spec(at, "curve_chart")
    lines = {t["name"] for t in spec["data"] if t.get("mode") == "lines+markers"}
    assert lines == {"random", "allabel"}
    assert sum(t.get("fill") == "toself" for t in spec["data"]) == 2  # a band per strategy over seeds
    assert any(s.get("y0") == s.get("y1") for s in spec["layout"]["shapes"])  # the ceiling
    assert "strict IOB2 (seqeval)" in spec["layout"]["yaxis"]["title"]["text"]
    summary = at.dataframe[0].value
    assert set(summary["strategy"]) == {"random", "allabel", "full"}
    # Coverage@5 beside F1, and as the plotted measure on request.
    assert summary["coverage@k"].between(0, 1).all() and "F1" in summary.columns
    assert len(project.records.curve_results("experiment")) == 9
    at.radio(key="curve_metric").set_value("coverage").run()
    assert not at.exception
    assert "coverage" in chart_spec(at, "curve_chart")["layout"]["yaxis"]["title"]["text"]


def test_curve_page_extends_the_live_curve_as_labels_are_confirmed(project):
    ids = project.pool_ids()
    confirm_gold(project, ids[:3])
    at = app("3_Curve.py", project).run()
    wait_job("live", project)
    confirm_gold(project, ids[3:6])
    at.run()
    wait_job("live", project)
    at.run()
    assert not at.exception
    live = project.records.curve_results("live")
    assert list(live["n_labeled"]) == [3, 6] and live["f1"].notna().all()
    spec = chart_spec(at, "curve_chart")
    (you,) = [t for t in spec["data"] if t.get("name", "").startswith("you")]
    assert len(decode(you["y"])) == 2
    per_type = next(d.value for d in at.dataframe if "support" in d.value.columns)
    assert per_type.iloc[-1]["type"] == "all (micro)"


def test_predictions_page_shows_demonstrations_and_escapes_text(project):
    ids = project.pool_ids()
    confirm_gold(project, ids[:6])
    at = app("4_Predictions.py", project)
    at.session_state["inspect_id"] = "xss"
    at.run()
    assert not at.exception
    assert any("No stored prediction" in i.value for i in at.info)
    at.button(key="pred_run").click().run()
    assert not at.exception
    html = " ".join(m.value for m in at.markdown)
    # Predicted spans may cut the probe into marks; every piece of it stays escaped.
    assert "&lt;img src=x onerror=alert(" in html and "&lt;/script&gt;" in html
    assert "<img" not in html and "<script" not in html
    demos = next(d.value for d in at.dataframe if "similarity" in d.value.columns)
    assert 0 < len(demos) <= 6 and set(demos["id"]) <= set(ids[:6])
    assert list(demos["similarity"]) == sorted(demos["similarity"])  # most similar last, nearest the query
    diff = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert set(diff["verdict"]) <= {"correct", "wrong type", "wrong boundary", "spurious", "missed"}
    assert [m.label for m in at.metric][-4:] == ["unparseable answers", "invented labels", "ungrounded spans",
                                                 "failed requests"]


def test_a_key_typed_in_settings_reaches_the_curve_jobs_requests(project, fault_server, monkeypatch):
    """Background jobs get the predictor resolved in the script thread: the
    key typed in Settings is on every request the live-curve and experiment
    workers send (a worker thread has no session to read it from)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ALLABEL_API_KEY", raising=False)
    typed = "sk-typed-in-settings-0123456789abcdef"
    project.set_settings(predictor="openai", base_url=fault_server.url, model=fault_server.model, k=2)
    confirm_gold(project, project.pool_ids()[:3])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["project_path"] = str(project.path)
    at.run()
    assert not at.exception
    at.switch_page("pages/5_Settings.py").run()
    assert not at.exception
    at.text_input(key="settings_api_key").input(typed).run()
    assert at.session_state["api_key"] == typed
    at.switch_page("pages/3_Curve.py").run()
    assert not at.exception
    wait_job("live", project)
    live_requests = fault_server.chat_requests()
    assert live_requests, "the live curve sent no request to the endpoint"
    assert {r["headers"].get("authorization") for r in live_requests} == {f"Bearer {typed}"}
    at.multiselect(key="curve_strategies").set_value(["random"])
    at.text_input(key="curve_budgets").set_value("0.05")
    at.number_input(key="curve_seeds").set_value(1)
    at.button(key="curve_run").click().run()
    wait_job("curve", project)
    experiment_requests = fault_server.chat_requests()[len(live_requests):]
    assert experiment_requests, "the experiment sent no request to the endpoint"
    assert {r["headers"].get("authorization") for r in experiment_requests} == {f"Bearer {typed}"}
    # the key is used, never stored
    assert typed not in Path(project.path).read_bytes().decode("utf-8", "replace")


def test_compare_view_shows_each_strategys_picks_with_coverage(project):
    from allabel_core.dashboard import state as app_state
    from allabel_core.project import tasks as project_tasks
    from allabel_core.views import map_data

    at = rendered_map(project)
    at.radio(key="map_view").set_value("compare").run()
    assert not at.exception
    spec = chart_spec(at)
    layers = {t["name"].split(" (")[0]: t for t in spec["data"] if t.get("marker", {}).get("symbol")}
    assert set(layers) == {"random", "core-set", "similarity only", "ALLabel"}
    # Random and ALLabel start shown, the others one legend click away.
    assert {n for n, t in layers.items() if t.get("visible", True) is True} == {"random", "ALLabel"}
    embedder = app_state.get_embedder()
    want = map_data.compare_for_project(project, project_tasks.pool_vectors(project, embedder),
                                         project_tasks.target_vectors(project, embedder), 10, seed=0,
                                         embedder=embedder)
    ids = project.pool_ids()
    for r in want:
        assert sorted(layers[r.label]["customdata"]) == sorted(ids[i] for i in r.indices)
    assert len(layers["ALLabel"]["customdata"]) == 10
    table = next(d.value for d in at.dataframe if "mean similarity" in d.value.columns)
    assert list(table["strategy"]) == ["random", "core-set", "similarity only", "ALLabel"]
    np.testing.assert_allclose(table["mean similarity"], [r.coverage.mean for r in want], rtol=1e-6)
    assert table["entity coverage"].notna().all()  # the sample target has gold
    assert project.selections.table().empty  # comparing picks nothing for real
    at.toggle(key="map_compare_side").set_value(True).run()  # random beside ALLabel, each in its own panel
    side = chart_spec(at, "map_side")
    titles = [a["text"] for a in side["layout"]["annotations"]]
    assert [t.split(":")[0] for t in titles] == ["random", "ALLabel"] and all("served" in t for t in titles)
    at.number_input(key="map_compare_budget").set_value(12).run()  # another budget: computed anew
    spec = chart_spec(at)
    assert len(next(t for t in spec["data"] if t["name"].startswith("ALLabel"))["customdata"]) == 12


def test_gaps_view_colours_by_similarity_to_the_selection_and_a_lasso_queues_exactly_those(project):
    from allabel_core.dashboard import state as app_state
    from allabel_core.experiment.coverage import pool_gaps
    from allabel_core.project import tasks as project_tasks

    ids = project.pool_ids()
    project.selections.enqueue(ids[:4])
    at = rendered_map(project)
    at.radio(key="map_view").set_value("gaps").run()
    assert not at.exception
    spec = chart_spec(at)
    (colored,) = [t for t in spec["data"] if t.get("marker", {}).get("showscale")]
    best = pool_gaps(project_tasks.pool_vectors(project, app_state.get_embedder()), [0, 1, 2, 3])
    got = dict(zip(colored["customdata"], decode(colored["marker"]["color"])))
    np.testing.assert_allclose([got[i] for i in ids], np.clip(best, 0, 1), atol=1e-5)
    ring = next(t for t in spec["data"] if t["name"].startswith("chosen"))
    assert len(decode(ring["x"])) == 4
    assert any("served" in m.label for m in at.metric)
    # A lasso around the worst-served points queues those and nothing else.
    worst = {i for i in ids[4:] if got[i] < np.quantile([got[j] for j in ids[4:]], 0.25)}
    assert len(worst) > 5
    event = lasso_event({"data": [colored]}, lambda x, y: False)
    xs, ys = decode(colored["x"]), decode(colored["y"])
    event["selection"]["points"] = [
        {"curve_number": 0, "point_number": k, "point_index": k, "x": float(xs[k]), "y": float(ys[k]), "customdata": cd}
        for k, cd in enumerate(colored["customdata"]) if cd in worst]
    at.session_state["map_chart"] = event
    at.run()
    at.button(key="map_enqueue").click().run()
    assert not at.exception
    assert set(project.selections.queue()) == set(ids[:4]) | worst


def test_queueing_past_the_budget_warns_with_both_numbers(project):
    at = rendered_map(project)
    spec = chart_spec(at)
    event = lasso_event(spec, lambda x, y: True)
    at.session_state["map_chart"] = event
    at.run()
    assert not at.exception
    n = len(project)
    assert any(f"This puts {n} in the queue for a budget of 10" in w.value for w in at.warning)
    assert any("over the budget" in b.label for b in at.button if b.key == "map_enqueue")
    at.button(key="map_enqueue").click().run()
    assert len(project.selections.queue()) == n  # a warning, not a refusal
    (bar,) = at.get("progress")
    assert "0 confirmed + " + str(n) + " in the queue, for a budget of 10" in bar.proto.text
