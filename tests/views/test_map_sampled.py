"""Large maps: a density layer of every point and a capped, stable sample over it."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from allabel_core.views import figures as F


def pool(n, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(n)]
    return ids, rng.standard_normal((n, 2)).astype(np.float32), [f"sentence {i} about films" for i in range(n)]


def drawn_ids(fig):
    return [i for t in fig.data if t.customdata is not None for i in t.customdata]


def test_sample_takes_every_always_row_and_caps_the_chosen_and_the_rest_separately():
    rows = F.sample_points(1000, always=[5, 6, 7], first=range(100, 400), size=50)
    assert {5, 6, 7} <= set(rows)
    assert sum(100 <= r < 400 for r in rows) == 50
    assert sum(r not in (5, 6, 7) and not 100 <= r < 400 for r in rows) == 50
    assert list(rows) == sorted(rows) and len(set(rows)) == len(rows) == 3 + 50 + 50
    # Always rows go in even past the cap; a small tier is taken whole.
    assert len(F.sample_points(10, always=range(8), size=1)) == 8 + 0 + 1
    small = F.sample_points(10, first=[2, 3], size=5)
    assert {2, 3} <= set(small) and len(small) == 2 + 5
    assert len(F.sample_points(10, size=100)) == 10


def test_sample_is_the_same_every_rerun_and_choosing_more_swaps_few_points():
    a = F.sample_points(50_000, first=range(10), size=2000)
    assert np.array_equal(a, F.sample_points(50_000, first=range(10), size=2000))
    b = F.sample_points(50_000, first=range(20), size=2000)
    # Ten more chosen sentences: they come in, and about as many of the rest go out.
    assert len(set(a) ^ set(b)) <= 2 * 10 + 2


def test_sample_of_the_rest_is_spread_like_the_pool():
    rows = F.sample_points(100_000, size=4000)
    # Each tenth of the pool holds about a tenth of the sample.
    counts = np.bincount(rows // 10_000, minlength=10)
    assert counts.min() > 330 and counts.max() < 470


def test_density_counts_every_point_in_square_cells():
    ids, xy, texts = pool(30_000)
    xy[:, 1] *= 0.5  # a wide map: fewer rows of cells than columns
    cx, cy, counts = F.density_counts(xy, F._padded(xy[:, 0]), F._padded(xy[:, 1]), bins=100)
    assert counts.sum() == 30_000 and counts.shape == (len(cy), len(cx))
    assert len(cx) == 100 and len(cy) < 70
    np.testing.assert_allclose(np.diff(cx).mean(), np.diff(cy).mean(), rtol=0.05)
    # counts[y][x]: the fullest cell is near the centre of a standard normal cloud.
    r, c = np.unravel_index(np.argmax(counts), counts.shape)
    assert abs(cx[c]) < 0.5 and abs(cy[r]) < 0.3


def test_density_colours_rise_on_a_log_scale():
    stops = F.density_colorscale(1000)
    pos = [p for p, _ in stops]
    assert pos[0] == 0 and pos[-1] == 1 and pos == sorted(pos)
    assert pos[1] < 0.01  # a cell with a few sentences already gets the second colour's tint
    assert F.density_colorscale(1)[-1][0] == 1


def test_a_large_map_draws_density_and_a_sample_with_every_chosen_and_the_opened_sentence():
    ids, xy, texts = pool(3000)
    groups = [F.NOT_SELECTED] * 3000
    for i in range(0, 300, 3):
        groups[i] = "diversity"
    chosen = [ids[i] for i in range(0, 300, 3)]
    fig = F.map_figure(ids, xy, texts, groups=groups, keep=chosen, focus="s2999", links=("s2999", ["s2998", "s1"]),
                       draw_all_up_to=1000, sample_size=200)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 1 and np.nansum(np.asarray(heat[0].z, dtype=float)) == 3000
    assert heat[0].showscale is False and heat[0].customdata is None  # no ids: selects through the lasso module
    drawn = drawn_ids(fig)
    assert set(chosen) <= set(drawn) and {"s2999", "s2998", "s1"} <= set(drawn)
    assert len(drawn) == len(set(drawn)) == 100 + 200 + 3
    names = {t.name for t in fig.data}
    assert "diversity (100; 100 drawn)" in names and "not selected (2,900; 203 drawn)" in names
    # Hover text for what is drawn, and only that.
    for t in fig.data:
        if t.customdata is not None:
            assert all(f"id {i}" in h for i, h in zip(t.customdata, t.hovertext))
    # The axes still span every point, not only the drawn ones.
    assert fig.layout.xaxis.range[0] < xy[:, 0].min() and fig.layout.xaxis.range[1] > xy[:, 0].max()


def test_a_small_map_draws_every_point_as_before():
    ids, xy, texts = pool(500)
    fig = F.map_figure(ids, xy, texts, keep=ids[:3], draw_all_up_to=500)
    assert not any(isinstance(t, go.Heatmap) for t in fig.data)
    assert sorted(drawn_ids(fig)) == sorted(ids)
    assert [t.name for t in fig.data] == ["not selected (500)"]


def test_values_are_coloured_on_the_drawn_points():
    ids, xy, texts = pool(2000)
    values = np.linspace(0, 1, 2000)
    values[:10] = np.nan
    fig = F.map_figure(ids, xy, texts, values=values, color_by="gaps", draw_all_up_to=100, sample_size=50)
    heat, grey, colored = fig.data
    assert isinstance(heat, go.Heatmap) and colored.marker.showscale
    got = dict(zip(colored.customdata, np.asarray(colored.marker.color)))
    assert all(abs(v - values[int(i[1:])]) < 1e-9 for i, v in got.items())
    assert len(got) + len(grey.customdata) == 50 and grey.name.startswith("no value (10; ")
    assert colored.name == f"gaps (1,990; {len(got)} drawn)"


def test_side_by_side_at_scale_draws_every_pick_over_the_density():
    ids, xy, texts = pool(3000)
    fig = F.side_by_side_figure(ids, xy, texts, {"random": ids[:40], "ALLabel": ids[100:130]}, draw_all_up_to=1000,
                                sample_size=100)
    per_axis = {}
    for t in fig.data:
        per_axis.setdefault(t.xaxis, []).append(t)
    for axis, picks in (("x", ids[:40]), ("x2", ids[100:130])):
        heat, rest, top = per_axis[axis]
        assert isinstance(heat, go.Heatmap) and np.nansum(np.asarray(heat.z, dtype=float)) == 3000
        assert sorted(top.customdata) == sorted(picks) and len(rest.customdata) == 100


def test_a_hundred_thousand_point_map_is_a_small_fraction_of_drawing_them_all():
    n = 100_000
    ids, xy, _ = pool(n)
    texts = [f"Sentence {i}: thin perovskite films on doped TiO2 layers raise the cell's efficiency to 21 %." for i in range(n)]
    groups = [F.NOT_SELECTED] * n
    for i in range(0, n, 20):  # a 5 % budget already chosen
        groups[i] = "diversity"
    chosen = [ids[i] for i in range(0, n, 20)]
    sampled = pio.to_json(F.map_figure(ids, xy, texts, groups=groups, keep=chosen), validate=False)
    everything = pio.to_json(F.map_figure(ids, xy, texts, groups=groups, keep=chosen, draw_all_up_to=n), validate=False)
    assert len(sampled) < 2_500_000 < 15_000_000 < len(everything)
    spec = json.loads(sampled)
    assert sum(len(t.get("customdata", [])) for t in spec["data"]) == 2 * F.SAMPLE_POINTS
