"""The map projection, the figures and tables, and the background-job runner."""

from __future__ import annotations

import base64
import json
import threading

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from fakes import FakeStore

from allabel_core.views import figures as F
from allabel_core import jobs as J
from allabel_core.project import tasks as project_tasks
from allabel_core.views import tables as T
from allabel_core.jobs import DONE, FAILED, Job, JobRegistry
from allabel_core.vectors.layout import ProjectionParams, knn_graph, layout_2d, stored_layout
from allabel_core.scoring import evaluate
from allabel_core.data.sentence import Span


def unit(n, d=16, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- projection ------------------------------------------------------------------
def test_knn_graph_self_first_and_matches_brute_force():
    x = unit(50)
    x[7] = x[3]  # a duplicate may outrank the row itself in faiss
    ids, dists = knn_graph(x, 5)
    assert ids.shape == dists.shape == (50, 5)
    assert (ids[:, 0] == np.arange(50)).all() and (dists[:, 0] == 0).all()
    sims = x @ x.T
    for i in (0, 3, 7, 20):
        brute = [j for j in np.argsort(-sims[i], kind="stable") if j != i][:4]
        assert set(ids[i, 1:]) == set(brute) or np.allclose(sorted(sims[i, ids[i, 1:]]), sorted(sims[i, brute]))
    assert np.all(np.diff(dists, axis=1) >= -1e-6)


def test_project_shape_determinism_and_cache(tmp_path, monkeypatch):
    x = unit(120)
    params = ProjectionParams(seed=3, n_epochs=60)
    a = layout_2d(x, params, cache=tmp_path)
    assert a.shape == (120, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    assert len(list(tmp_path.glob("*.npy"))) == 1
    b = layout_2d(x, params, cache=False)
    np.testing.assert_allclose(a, b, atol=1e-5)  # same seed, same layout

    from allabel_core.vectors import layout as P

    def boom(*_a, **_k):
        raise AssertionError("cache miss: UMAP ran again")

    monkeypatch.setattr(P, "_umap", boom)
    steps = []
    c = layout_2d(x, params, cache=tmp_path, progress=lambda d, t: steps.append((d, t)))
    np.testing.assert_array_equal(a, c)
    assert steps[-1] == (2, 2)
    with pytest.raises(AssertionError, match="cache miss"):
        layout_2d(x, ProjectionParams(seed=4, n_epochs=60), cache=tmp_path)  # other params: other key


def test_layout_tiny_inputs_use_pca():
    assert layout_2d(unit(0), cache=False).shape == (0, 2)
    assert layout_2d(unit(1), cache=False).shape == (1, 2)
    xy = layout_2d(unit(5), cache=False)
    assert xy.shape == (5, 2) and np.isfinite(xy).all()
    np.testing.assert_array_equal(xy, layout_2d(unit(5), cache=False))




def test_stored_layout_computes_once_per_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path))
    store, x = FakeStore(), unit(40)
    ids = [f"s{i}" for i in range(40)]
    params = ProjectionParams(n_epochs=30)
    a = stored_layout(store, ids, x, params)
    b = stored_layout(store, ids, x, params)
    assert store.saves == 1 and np.array_equal(a, b)
    stored_layout(store, ids, x, ProjectionParams(n_epochs=31))
    assert store.saves == 2


# -- the map ---------------------------------------------------------------------
def sample_map(n):
    ids = [f"id{i}" for i in range(n)]
    xy = np.random.default_rng(1).standard_normal((n, 2))
    texts = [f"sentence {i}" for i in range(n)]
    return ids, xy, texts


def test_map_figure_one_trace_per_group_with_ids_in_customdata():
    ids, xy, texts = sample_map(60)
    stage_of = {"id1": "diversity", "id2": "similarity", "id3": "similarity", "id9": "uncertainty"}
    groups = F.stage_groups(ids, stage_of)
    fig = F.map_figure(ids, xy, texts, groups=groups)
    names = [t.name.split(" (")[0] for t in fig.data]
    assert names == ["not selected", "diversity", "similarity", "uncertainty"]
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    by_name = {t.name.split(" (")[0]: t for t in fig.data}
    assert list(by_name["similarity"].customdata) == ["id2", "id3"]
    assert list(by_name["diversity"].customdata) == ["id1"]
    assert len(by_name["not selected"].customdata) == 56
    # Each point's coordinates belong to the id it carries.
    pos = {i: j for j, i in enumerate(ids)}
    for t in fig.data:
        for k, sid in enumerate(t.customdata):
            assert (t.x[k], t.y[k]) == pytest.approx(tuple(xy[pos[sid]]))


def test_map_figure_webgl_above_a_thousand_points():
    ids, xy, texts = sample_map(1001)
    fig = F.map_figure(ids, xy, texts)
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    ids, xy, texts = sample_map(1000)
    assert all(isinstance(t, go.Scatter) for t in F.map_figure(ids, xy, texts).data)


def test_map_figure_escapes_hover_text():
    probe = "Probe <img src=x onerror=alert(1)> & <script>alert(2)</script>"
    fig = F.map_figure(["a"], np.zeros((1, 2)), [probe])
    hover = fig.data[0].hovertext[0]
    assert "<img" not in hover and "<script" not in hover
    assert "&lt;img src=x onerror=alert(1)&gt;" in hover and "&amp;" in hover


def test_map_figure_continuous_values_and_links():
    ids, xy, texts = sample_map(10)
    vals = [np.nan] * 3 + list(np.linspace(0, 1, 7))
    fig = F.map_figure(ids, xy, texts, values=vals, color_by="uncertainty", links=("id5", ["id1", "id2", "nope"]),
                       highlight=["id4"])
    assert [len(t.customdata) if t.customdata is not None else None for t in fig.data] == [3, 7, None, None]
    lines = fig.data[2]
    assert lines.mode == "lines" and list(lines.x).count(None) == 2  # two demos found, one unknown id skipped
    assert lines.x[0] == pytest.approx(xy[5, 0]) and lines.x[1] == pytest.approx(xy[1, 0])


def test_ids_from_selection_handles_lists_scalars_and_other_traces():
    event = {"selection": {"points": [
        {"curve_number": 1, "point_index": 0, "customdata": ["id7"]},
        {"curve_number": 0, "point_index": 0, "customdata": "id2"},
        {"curve_number": 2, "point_index": 3},  # a link line: no id
        {"curve_number": 1, "point_index": 0, "customdata": ["id7"]},
    ], "point_indices": [0, 0, 3], "box": [], "lasso": []}}
    assert F.ids_from_selection(event) == ["id7", "id2"]
    assert F.ids_from_selection(None) == [] and F.ids_from_selection({"selection": {"points": []}}) == []


def decode(array):
    """A Plotly JSON array: a plain list, or a typed buffer (plotly >= 6)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


def test_selection_round_trip_through_the_figure_json():
    """A lasso event built the way the browser builds it (per-trace point
    indices into the serialised figure, customdata copied from the point)
    maps back to the right ids, whatever the trace order."""
    ids, xy, texts = sample_map(300)
    groups = F.stage_groups(ids, {f"id{i}": "similarity" for i in range(0, 300, 7)})
    spec = json.loads(F.map_figure(ids, xy, texts, groups=groups).to_json())
    inside = lambda x, y: x > 0 and y > 0  # noqa: E731 (the "lasso")
    points = [
        {"curve_number": c, "point_index": k, "point_number": k, "customdata": t["customdata"][k]}
        for c, t in enumerate(spec["data"])
        for k, (x, y) in enumerate(zip(decode(t["x"]), decode(t["y"])))
        if inside(x, y)
    ]
    got = F.ids_from_selection({"selection": {"points": points}})
    want = [i for i, (x, y) in zip(ids, xy) if inside(x, y)]
    assert sorted(got) == sorted(want) and len(got) > 10
    assert {p["curve_number"] for p in points} == {0, 1}  # both traces, indices restart per trace


def test_error_and_status_groups():
    s = lambda a, b, lab: Span(a, b, lab, "x" * (b - a))  # noqa: E731
    gold = {"a": [s(0, 2, "MAT")], "b": [s(0, 2, "MAT")], "c": [s(0, 2, "MAT")], "d": [], "e": [s(0, 1, "MAT")]}
    pred = {"a": [s(0, 2, "MAT")], "b": [], "c": [s(0, 3, "MAT")], "d": [s(0, 1, "PRO")]}
    assert F.error_groups(["a", "b", "c", "d", "e", "f"], pred, gold) == [
        "correct", "missed", "missed and spurious", "spurious", "no prediction", "no gold"]
    assert F.status_groups(["a", "b"], {"a": "confirmed"}) == ["confirmed", "not labeled"]


# -- the curve -------------------------------------------------------------------
def curve_results():
    rows = []
    for strategy, base in (("random", 0.5), ("allabel", 0.6), ("coreset", 0.45)):
        for budget in (0.01, 0.05, 0.1):
            for seed in range(3):
                rows.append({"strategy": strategy, "budget": budget, "n_selected": int(budget * 500), "seed": seed,
                             "precision": 0, "recall": 0, "f1": base + budget + 0.01 * seed})
    rows += [{"strategy": "full", "budget": 1.0, "n_selected": 500, "seed": s, "precision": 0, "recall": 0, "f1": 0.8}
             for s in range(3)]
    return pd.DataFrame(rows)


def test_curve_figure_has_bands_mean_lines_and_ceiling():
    fig = F.curve_figure(curve_results())
    bands = [t for t in fig.data if t.fill == "toself"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert {t.name for t in lines} == {"random", "allabel", "coreset"}
    assert len(bands) == 3
    assert lines[-1].name == "allabel"  # drawn on top
    allabel = next(t for t in lines if t.name == "allabel")
    assert list(allabel.x) == pytest.approx([1, 5, 10])  # budget as % of the pool
    assert list(allabel.y) == pytest.approx([0.62, 0.66, 0.71])
    band = next(t for t in bands if t.legendgroup == "allabel")
    assert max(band.y) == pytest.approx(0.72) and min(band.y) == pytest.approx(0.61)  # min–max over seeds
    hlines = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert len(hlines) == 1 and hlines[0].y0 == pytest.approx(0.8)
    assert "strict IOB2 (seqeval)" in fig.layout.yaxis.title.text and "%" in fig.layout.xaxis.title.text


def test_curve_std_band_live_curve_and_empty():
    s = F.curve_summary(curve_results(), band="std")
    row = s[(s.strategy == "random") & (s.budget_pct == 5)].iloc[0]
    assert row["high"] - row["mean"] == pytest.approx(0.01)
    live = pd.DataFrame({"n_labeled": [5, 10], "f1": [0.3, 0.4]})
    fig = F.curve_figure(curve_results(), live=live, pool_size=500)
    you = next(t for t in fig.data if t.name.startswith("you"))
    assert list(you.x) == pytest.approx([1, 2])
    empty = F.curve_figure(pd.DataFrame(columns=["strategy", "budget", "seed", "f1"]))
    assert not empty.data and empty.layout.annotations[0].text == "no results yet"
    with pytest.raises(ValueError):
        F.curve_summary(curve_results(), band="iqr")


# -- tables ----------------------------------------------------------------------
def test_per_type_table_matches_evaluate():
    gold = [["B-MAT", "I-MAT", "O", "B-PRO"], ["B-MAT", "O"]]
    pred = [["B-MAT", "I-MAT", "O", "O"], ["B-PRO", "O"]]
    scores = evaluate(gold, pred)
    df = T.per_type_table(scores)
    assert list(df.columns) == ["type", "precision", "recall", "f1", "support"]
    assert list(df["type"]) == ["MAT", "PRO", "all (micro)"]
    mat = df.set_index("type").loc["MAT"]
    assert mat["recall"] == pytest.approx(0.5) and mat["support"] == 2
    assert df.iloc[-1]["f1"] == pytest.approx(scores.f1)


def test_span_diff_and_why_picked_tables():
    sp = lambda a, b, lab: Span(a, b, lab, "x" * (b - a))  # noqa: E731
    pred = [sp(0, 3, "MAT"), sp(5, 8, "PRO"), sp(10, 14, "MAT"), sp(20, 22, "APL")]
    gold = [sp(0, 3, "MAT"), sp(5, 8, "MAT"), sp(10, 12, "MAT"), sp(30, 33, "PRO")]
    df = T.span_diff_table(pred, gold)
    assert list(df["verdict"]) == ["correct", "wrong type", "wrong boundary", "spurious", "missed"]
    assert list(T.span_diff_table(pred, None)["verdict"]) == ["unchecked"] * 4
    picks = [{"sentence_id": "a", "stage": "diversity", "score": 0.1, "reason": "seed"},
             {"sentence_id": "b", "stage": "similarity", "score": 3.0, "reason": "covers 3 targets"},
             {"sentence_id": "c", "stage": "similarity", "score": 2.0, "reason": "covers 2 targets"}]
    t = T.why_picked_table(picks, {"a": "A.", "b": "B."})
    assert list(t["rank"]) == [1, 1, 2] and list(t["sentence"]) == ["A.", "B.", ""]


def test_each_name_lives_in_one_module_without_aliases():
    for name in ("per_type_table", "why_picked_table", "span_diff_table", "parse_counts", "demonstrations_table"):
        assert hasattr(T, name) and not hasattr(F, name)
    for name in ("run_stages", "keep_live_curve", "refresh_predictions", "run_experiment", "compute_map",
                 "demonstrations_for", "stage_quotas", "pool_vectors"):
        assert hasattr(project_tasks, name) and not hasattr(J, name)
    with pytest.raises(ImportError):
        from allabel_core.views.figures import per_type_table  # noqa: F401
    with pytest.raises(ImportError):
        from allabel_core.jobs import stage_quotas  # noqa: F401
    with pytest.raises(AttributeError):
        F.no_such_name  # noqa: B018


# -- jobs ------------------------------------------------------------------------
def test_job_reports_progress_and_results_as_they_arrive():
    gate = threading.Event()

    def work(job):
        for i in range(3):
            job.add_result({"i": i})
            job.progress(i + 1, 3, f"step {i}")
            if i == 0:
                gate.wait(5)
        return "ok"

    reg = JobRegistry()
    job = reg.submit("k", work)
    for _ in range(100):
        if job.results:
            break
        threading.Event().wait(0.01)
    assert job.results == [{"i": 0}] and job.running
    assert reg.submit("k", work) is job  # no duplicate while running
    gate.set()
    assert job.wait(5) and job.state == DONE and job.value == "ok"
    assert job.status()["fraction"] == 1.0 and len(job.results) == 3
    assert reg.submit("k", work) is not job  # a finished job is replaced


def test_job_failure_is_recorded_not_raised():
    job = Job(lambda j: 1 / 0).start()
    assert job.wait(5) and job.state == FAILED and "ZeroDivisionError" in job.error


def clustered(n, d=32, centres=20, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    x = c[rng.integers(0, centres, n)] + 0.8 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ivf_neighbours_find_nearly_all_exact_ones_self_first():
    x = clustered(4000)
    exact, _ = knn_graph(x, 15)
    ids, dists = knn_graph(x, 15, index="ivf")
    assert ids.shape == dists.shape == (4000, 15) and (ids >= 0).all()
    assert (ids[:, 0] == np.arange(4000)).all() and (dists[:, 0] == 0).all()
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(exact, ids)])
    assert recall > 0.95
    np.testing.assert_allclose(dists[:, 1:], 1 - np.einsum("id,ikd->ik", x, x[ids[:, 1:]]), atol=1e-5)


def test_ivf_rows_whose_probed_lists_are_too_short_are_searched_exactly(monkeypatch):
    from allabel_core.vectors import layout as P

    monkeypatch.setattr(P, "IVF_PROBES", 1)  # one list of ~40 rows probed, 50 neighbours wanted
    searched = []
    real = P.build_index
    monkeypatch.setattr(P, "build_index", lambda v: searched.append(len(v)) or real(v))
    x = clustered(400)
    ids, _ = knn_graph(x, 50, index="ivf")
    exact, _ = knn_graph(x, 50)
    assert (ids >= 0).all() and all(len(set(row)) == 50 for row in ids)
    short = [i for i in range(400) if set(ids[i]) == set(exact[i])]
    assert searched[0] == 400 and len(short) >= 50  # the exact index was built, and used for the short rows


def test_params_for_size_switch_to_ivf_above_the_threshold_and_keep_small_maps_stored_as_before():
    from allabel_core.errors import ConfigError
    from allabel_core.vectors import layout as P

    small = ProjectionParams.for_size(P.EXACT_NEIGHBOURS_UP_TO)
    # A layout stored before the threshold existed is still recognised as current.
    assert small == ProjectionParams() and small.as_dict() == {
        "n_neighbors": 15, "min_dist": 0.1, "seed": 0, "n_epochs": None, "method": "umap",
        "neighbours": "faiss-exact-ip", "metric": "cosine"}
    big = ProjectionParams.for_size(P.EXACT_NEIGHBOURS_UP_TO + 1)
    assert big.neighbours == "ivf" and big.as_dict()["neighbours"] == "faiss-ivf-ip"
    assert big.n_epochs == P.LARGE_EPOCHS
    assert ProjectionParams.for_size(10**6, seed=4).seed == 4
    with pytest.raises(ConfigError, match="neighbour search"):
        ProjectionParams(neighbours="hnsw")


def test_stored_layout_of_a_large_pool_is_made_with_ivf_neighbours(monkeypatch, tmp_path):
    from allabel_core.vectors import layout as P

    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path))  # no layout cached by an earlier run
    monkeypatch.setattr(P, "EXACT_NEIGHBOURS_UP_TO", 100)
    seen = []
    monkeypatch.setattr(P, "_umap", lambda v, params, progress: seen.append(params) or np.zeros((len(v), 2), np.float32))
    store = FakeStore()
    x = clustered(300)
    stored_layout(store, [f"s{i}" for i in range(300)], x)
    assert seen[0].neighbours == "ivf" and store.saved[2]["neighbours"] == "faiss-ivf-ip"
