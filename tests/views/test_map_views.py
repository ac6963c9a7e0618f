"""The map's comparison, gaps and region names as pure functions: given
selections, the colours, layers and line segments the map draws."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from allabel_core.experiment.compare import COMPARE_STRATEGIES, allabel_cold_start, compare_strategies, compare_table
from allabel_core.experiment.coverage import (
    entity_coverage, entity_hits, nearest_selected, pool_gaps, similarity_coverage,
)
from allabel_core.data.sentence import Span
from allabel_core.selection import coverage_scores, run_strategy, split_budget
from allabel_core.views import figures as F
from allabel_core.views.regions import region_labels


def unit(n, d=12, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- hover text and the figure's chrome ------------------------------------------
def test_hover_text_reads_as_typed_in_plotlys_html_subset():
    typed = 'He said "TiO2 <b>films</b>" & left'
    # Plotly decodes &amp; &lt; &gt; but not &quot;: quotes stay raw, no tag can form.
    assert F.hover_text(typed) == 'He said "TiO2 &lt;b&gt;films&lt;/b&gt;" &amp; left'
    assert "&quot;" not in F.hover_text(typed, extra=['id "x"'])


def test_map_layout_keeps_points_and_titles_clear_of_the_tool_bar():
    ids = [f"s{i}" for i in range(30)]
    xy = np.random.default_rng(0).standard_normal((30, 2))
    fig = F.map_figure(ids, xy, ["t"] * 30, values=np.linspace(0, 1, 30), color_by="uncertainty (knn-margin)")
    lay = fig.layout
    assert lay.margin.t >= 40  # a band above the plot area for the tool bar
    assert lay.yaxis.range[1] > xy[:, 1].max() + 0.05 * np.ptp(xy[:, 1])  # head room above the top point
    bar = next(t for t in fig.data if t.marker.showscale).marker.colorbar
    assert bar.title.side == "right" and bar.y + bar.len / 2 < 0.9  # the bar's title stays below the tool bar
    assert lay.hoverlabel.bgcolor == "#ffffff" and lay.hoverlabel.font.color == "#111111"  # dark on light


# -- lines to demonstrations -----------------------------------------------------
def test_link_segments_one_segment_per_demonstration():
    ids = ["a", "b", "c", "d"]
    xy = np.array([[0, 0], [1, 0], [0, 2], [5, 5]], dtype=np.float32)
    x, y = F.link_segments(ids, xy, "a", ["b", "c", "b", "a", "zz"])
    assert x == [0.0, 1.0, None, 0.0, 0.0, None] and y == [0.0, 0.0, None, 0.0, 2.0, None]
    assert F.link_segments(ids, xy, "missing", ["b"]) == ([], [])
    fig = F.map_figure(ids, xy, ["t"] * 4, links=("d", ["a"]), links_name="would be retrieved once labeled",
                       links_dash="dash", focus="d")
    (line,) = [t for t in fig.data if t.mode == "lines"]
    assert line.name == "would be retrieved once labeled" and line.line.dash == "dash"
    assert list(line.x) == [5.0, 0.0, None]
    (ring,) = [t for t in fig.data if t.name == "opened sentence"]
    assert (ring.x[0], ring.y[0]) == (5.0, 5.0) and ring.customdata is None  # a lasso over it maps to nothing


# -- layers (compare) ----------------------------------------------------------------
def test_layers_carry_their_ids_and_start_visible_as_asked():
    ids = [f"s{i}" for i in range(20)]
    xy = np.random.default_rng(2).standard_normal((20, 2))
    layers = {"random": ["s1", "s5", "s9"], "ALLabel": ["s2", "s5"]}
    fig = F.map_figure(ids, xy, [f"t{i}" for i in range(20)], groups=[F.NOT_SELECTED] * 20, layers=layers,
                       visible_layers=["ALLabel"], layer_styles={"ALLabel": ("diamond", "#d62728")})
    by = {t.name.split(" (")[0]: t for t in fig.data}
    assert list(by["random"].customdata) == ["s1", "s5", "s9"] and by["random"].visible == "legendonly"
    assert list(by["ALLabel"].customdata) == ["s2", "s5"] and by["ALLabel"].visible is True
    assert by["ALLabel"].marker.symbol == "diamond" and by["ALLabel"].marker.color == "#d62728"
    pos = {i: j for j, i in enumerate(ids)}
    assert np.allclose(by["random"].x, xy[[pos[i] for i in layers["random"]], 0])


def test_regions_are_written_escaped_at_their_centres():
    from allabel_core.views.regions import RegionLabel

    fig = F.map_figure(["a", "b"], np.zeros((2, 2)), ["x", "y"], regions=[RegionLabel(1.0, 2.0, ("<b>TiO2</b>", "films"), 9)])
    (ann,) = fig.layout.annotations
    assert (ann.x, ann.y) == (1.0, 2.0) and ann.text == "&lt;b&gt;TiO2&lt;/b&gt; · films"


# -- gaps ------------------------------------------------------------------------------
def test_nearest_selected_and_pool_gaps_match_brute_force():
    x = unit(60)
    sel = [3, 17, 40]
    sims, pos = nearest_selected(x, x[sel], k=2)
    brute = x @ x[sel].T
    np.testing.assert_allclose(sims[:, 0], brute.max(1), atol=1e-5)
    assert (pos[:, 0] == brute.argmax(1)).all()
    gaps = pool_gaps(x, sel)
    assert np.allclose(gaps[sel], 1.0)
    rest = np.setdiff1d(np.arange(60), sel)
    np.testing.assert_allclose(gaps[rest], brute[rest].max(1), atol=1e-5)
    assert np.isnan(pool_gaps(x, [])).all()
    s, p = nearest_selected(x[:3], x[[5]], k=3)  # fewer selected than k: padded
    assert (p[:, 1:] == -1).all() and np.isneginf(s[:, 1:]).all()


def test_gap_colours_put_the_threshold_at_white_and_gaps_in_red():
    scale = F.gap_colorscale(0.45, (0.15, 0.75))
    t = (0.45 - 0.15) / 0.6
    assert [0.0, "#b2182b"] == scale[0] and [t, "#f7f7f7"] in scale and scale[-1][1] == "#1b7837"
    assert F.gap_values([0.3, -0.2, 1.2, np.nan])[:3] == [0.3, 0.0, 1.0]
    assert np.isnan(F.gap_values([np.nan])[0])


def test_similarity_coverage_counts_the_served_share():
    cov = similarity_coverage(np.array([0.1, 0.4, 0.5, 0.9, -np.inf]), threshold=0.45)
    assert cov.served == pytest.approx(2 / 5) and cov.sentences == 5
    assert cov.mean == pytest.approx((0.1 + 0.4 + 0.5 + 0.9) / 4)


def test_entity_hits_compare_text_and_type_among_retrieved_demonstrations():
    target = [[Span(0, 4, "MAT", "TiO2")], [Span(0, 4, "MAT", "ZnO2"), Span(5, 9, "PRO", "band")], []]
    demos = [[Span(0, 4, "MAT", "tio2")], [Span(0, 4, "PRO", "ZnO2")], [Span(3, 7, "PRO", "Band")]]
    retrieved = np.array([[0, -1], [1, 2], [0, 1]])
    hits = entity_hits(target, demos, retrieved)
    assert hits[0] == 1.0 and hits[1] == 0.5 and np.isnan(hits[2])  # ZnO2 is MAT here, PRO in the demo
    assert entity_coverage(target, demos, retrieved) == pytest.approx(2 / 3)


# -- compare ---------------------------------------------------------------------------
def test_compare_runs_the_curves_strategies_with_one_seed():
    pool, target = unit(80, seed=1), unit(15, seed=2)
    res = compare_strategies(pool, 10, seed=4, target_vectors=target, allabel_params={"split": "1:4:0"})
    assert [r.name for r in res] == list(COMPARE_STRATEGIES)
    for r in res:
        params = {"split": "1:4:0"} if r.name == "allabel" else {}
        same = run_strategy(r.name, pool, [], 10, rng=np.random.default_rng(4), target_vectors=target, **params)
        assert list(r.indices) == list(same.indices)
        np.testing.assert_allclose(r.best, (target @ pool[r.indices].T).max(1), atol=1e-5)
        assert r.coverage.served == pytest.approx(np.mean(r.best >= r.coverage.threshold))
    again = compare_strategies(pool, 10, seed=4, target_vectors=target, allabel_params={"split": "1:4:0"})
    assert all(list(a.indices) == list(b.indices) for a, b in zip(res, again))
    table = compare_table(res)
    assert list(table["strategy"]) == ["random", "core-set", "similarity only", "ALLabel"]
    assert table["picked"].tolist() == [10] * 4 and table["entity coverage"].isna().all()


def test_allabel_without_labels_takes_its_uncertainty_share_by_coverage():
    pool = unit(90, seed=3)
    sel = allabel_cold_start(pool, 15, rng=np.random.default_rng(0))
    quotas = split_budget(15, "1:3:1", "DSU")
    stages = [p.stage for p in sel]
    assert stages == ["diversity"] * quotas["D"] + ["similarity"] * quotas["S"] + ["uncertainty"] * quotas["U"]
    assert len(set(sel.indices)) == 15
    before = sel.indices[: quotas["D"] + quotas["S"]]
    scores = coverage_scores(pool, before)
    free = np.setdiff1d(np.arange(90), before)
    top = np.sort(scores[free])[::-1][: quotas["U"]]
    u = [p for p in sel if p.stage == "uncertainty"]
    assert sorted(scores[[p.index for p in u]]) == sorted(top)
    assert all(np.isnan(p.score) and p.note.startswith("cold start: no labels yet") for p in u)
    res = compare_strategies(pool, 15, seed=0, strategies=("allabel",))
    assert list(res[0].indices) == list(sel.indices) and "cold start" in res[0].note


def test_compare_with_gold_measures_entity_coverage_over_the_unpicked_pool():
    pool = unit(40, seed=5)
    gold = [[Span(0, 3, "MAT", f"m{i % 4}")] for i in range(40)]
    (r,) = compare_strategies(pool, 8, seed=0, strategies=("random",), target_gold=gold, pool_gold=gold, k=3)
    rest = np.setdiff1d(np.arange(40), r.indices)
    _, pos = nearest_selected(pool[rest], pool[r.indices], k=3)
    assert r.entity_coverage == pytest.approx(entity_coverage([gold[i] for i in rest], [gold[i] for i in r.indices], pos))
    assert len(r.best) == 32  # the pool is the target: measured over the 32 sentences not picked


# -- region names ----------------------------------------------------------------------
def test_region_labels_name_separated_regions_by_their_own_words():
    rng = np.random.default_rng(0)
    left = rng.normal((-10, 0), 0.5, (30, 2))
    right = rng.normal((10, 0), 0.5, (30, 2))
    texts = [f"perovskite solar film number {i} absorbs light" for i in range(30)] + \
            [f"battery cathode LiFePO4 sample {i} cycles well" for i in range(30)]
    labels = region_labels(np.vstack([left, right]), texts, n_regions=2, words=2)
    assert len(labels) == 2
    by_side = {("left" if lab.x < 0 else "right"): set(lab.words) for lab in labels}
    assert by_side["left"] <= {"perovskite", "solar", "film", "absorbs", "light"}
    assert by_side["right"] <= {"battery", "cathode", "lifepo4", "sample", "cycles"}
    assert region_labels(np.zeros((1, 2)), ["one"]) == []
    with pytest.raises(ValueError, match="2 points but 1 texts"):
        region_labels(np.zeros((2, 2)), ["one"])


def test_map_figure_is_still_a_plain_scatter_below_the_webgl_threshold():
    ids = [f"s{i}" for i in range(10)]
    fig = F.map_figure(ids, np.zeros((10, 2)), ["t"] * 10, layers={"random": ids[:2]})
    assert all(isinstance(t, go.Scatter) for t in fig.data)


def test_values_with_none_known_draw_grey_points_without_a_colour_bar():
    fig = F.map_figure(["a", "b"], np.zeros((2, 2)), ["x", "y"], values=[np.nan, np.nan], color_by="gaps")
    assert [t.name for t in fig.data] == ["no value (2)"]


def test_side_by_side_draws_each_layer_in_its_own_panel_over_the_whole_pool():
    ids = [f"s{i}" for i in range(12)]
    xy = np.random.default_rng(3).standard_normal((12, 2))
    fig = F.side_by_side_figure(ids, xy, ["t"] * 12, {"random": ["s1", "s2"], "ALLabel": ["s3"]},
                                titles={"random": "random: 20% served", "ALLabel": "ALLabel <b>x</b>"})
    assert [a.text for a in fig.layout.annotations] == ["random: 20% served", "ALLabel &lt;b&gt;x&lt;/b&gt;"]
    panels = {}
    for t in fig.data:
        panels.setdefault(t.xaxis, []).append(t)
    assert sorted(panels) == ["x", "x2"]
    for axis, picked in (("x", ["s1", "s2"]), ("x2", ["s3"])):
        rest, top = panels[axis]
        assert list(top.customdata) == picked and sorted([*rest.customdata, *top.customdata]) == sorted(ids)
