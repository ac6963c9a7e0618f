"""A lasso or box on the map resolved to the exact points inside it, drawn or not."""

from __future__ import annotations

import numpy as np
import pytest

from allabel_core.errors import DimensionError
from allabel_core.views.lasso import Shape, ids_in_selection, in_box, in_polygon, in_shapes, selection_shapes

# An L: the unit square's left column and bottom row of a 3x3 grid, cut out of [0, 3]^2.
L_X = [0, 3, 3, 1, 1, 0]
L_Y = [0, 0, 1, 1, 3, 3]


def event(box=(), lasso=(), points=()):
    """What Streamlit 1.67 sends for a plotly selection (``x``/``y`` in data coordinates)."""
    return {"selection": {"points": list(points), "point_indices": [], "box": list(box), "lasso": list(lasso)}}


def test_points_in_and_out_of_a_concave_polygon():
    xy = np.array([[0.5, 0.5], [2.5, 0.5], [0.5, 2.5], [2, 2], [1.5, 1.5], [4, 0.5], [-0.1, 1], [0.5, 3.2]])
    assert in_polygon(xy, L_X, L_Y).tolist() == [True, True, True, False, False, False, False, False]


def test_a_concave_polygon_matches_the_union_of_its_two_rectangles():
    xy = np.random.default_rng(0).uniform(-0.5, 3.5, (20_000, 2))
    want = in_box(xy, [0, 3], [0, 1]) | in_box(xy, [0, 1], [0, 3])
    got = in_polygon(xy, L_X, L_Y)
    assert 5_000 < want.sum() < 15_000
    np.testing.assert_array_equal(got, want)
    # The same polygon drawn the other way round, or starting elsewhere, selects the same points.
    np.testing.assert_array_equal(in_polygon(xy, L_X[::-1], L_Y[::-1]), want)
    np.testing.assert_array_equal(in_polygon(xy, L_X[2:] + L_X[:2], L_Y[2:] + L_Y[:2]), want)


def test_points_on_the_boundary_count_as_inside():
    on = np.array([[0, 0], [1.5, 0], [3, 0.5], [1, 2], [0, 3], [1, 1], [0.5, 3], [2, 1]], dtype=np.float32)
    assert in_polygon(on, L_X, L_Y).all()
    assert not in_polygon(on + np.array([[-1e-3, -1e-3]], dtype=np.float32), L_X, L_Y)[[0, 1, 4]].any()


def test_a_self_crossing_lasso_follows_the_even_odd_rule():
    bowtie_x, bowtie_y = [0, 2, 2, 0], [0, 2, 0, 2]  # two triangles meeting at (1, 1)
    xy = np.array([[0.2, 1.0], [1.8, 1.0], [1.0, 0.2], [1.0, 1.8]])
    assert in_polygon(xy, bowtie_x, bowtie_y).tolist() == [True, True, False, False]


def test_box_corners_in_either_order_and_edges_included():
    xy = np.array([[0, 0], [1, 1], [0.5, 0.5], [1.01, 0.5], [0.5, -0.01]])
    assert in_box(xy, [1, 0], [1, 0]).tolist() == [True, True, True, False, False]
    assert in_box(xy, [0, 1], [0, 1]).tolist() == in_box(xy, [1, 0], [0, 1]).tolist()


def test_shapes_are_read_from_the_event_and_select_their_union():
    ids = [f"s{i}" for i in range(6)]
    xy = np.array([[0.5, 0.5], [2.5, 0.5], [5, 5], [6, 6], [9, 9], [2, 2]])
    ev = event(box=[{"xref": "x", "yref": "y", "x": [4.5, 6.5], "y": [6.5, 4.5]}],
               lasso=[{"xref": "x", "yref": "y", "x": L_X, "y": L_Y}])
    assert [s.kind for s in selection_shapes(ev)] == ["box", "lasso"]
    # Layout order, each once, every point inside whether it was drawn or not.
    assert ids_in_selection(ev, ids, xy) == ["s0", "s1", "s2", "s3"]
    assert in_shapes(xy, selection_shapes(ev)).sum() == 4


def test_a_click_or_an_empty_event_is_not_a_shape():
    ids, xy = ["a"], np.zeros((1, 2))
    click = event(points=[{"curve_number": 0, "point_index": 0, "customdata": "a", "x": 0, "y": 0}])
    assert ids_in_selection(click, ids, xy) is None
    assert ids_in_selection(None, ids, xy) is None and ids_in_selection({}, ids, xy) is None
    # A lasso reduced to a line, a box with one corner, or garbage: no shape.
    bad = event(box=[{"x": [1], "y": [1]}, "junk"], lasso=[{"x": [0, 1], "y": [0, 1]}, {"x": ["a", 1, 2], "y": [0, 1, 2]},
                                                            {"x": [0, 1, None], "y": [0, 1, 2]}])
    assert selection_shapes(bad) == []
    # A lasso on another subplot's axes is not this map's.
    other = event(lasso=[{"xref": "x2", "yref": "y2", "x": L_X, "y": L_Y}])
    assert selection_shapes(other) == []


def test_a_lasso_that_holds_no_point_selects_nothing_rather_than_falling_back():
    ids, xy = ["a", "b"], np.array([[10.0, 10.0], [11.0, 11.0]])
    assert ids_in_selection(event(lasso=[{"x": L_X, "y": L_Y}]), ids, xy) == []


def test_mismatched_inputs_are_refused():
    with pytest.raises(DimensionError):
        ids_in_selection(event(box=[{"x": [0, 1], "y": [0, 1]}]), ["a", "b"], np.zeros((3, 2)))
    with pytest.raises(DimensionError):
        in_polygon(np.zeros((2, 3)), L_X, L_Y)
    with pytest.raises(DimensionError):
        in_polygon(np.zeros((2, 2)), [0, 1, 2], [0, 1])
    assert Shape("box", (0.0, 1.0), (0.0, 1.0)) == selection_shapes(event(box=[{"x": [0, 1], "y": [0, 1]}]))[0]


def test_a_long_hand_drawn_lasso_matches_a_plain_crossing_test_over_every_edge():
    rng = np.random.default_rng(1)
    xy = rng.standard_normal((30_000, 2)).astype(np.float32)
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    r = 1.2 + 0.5 * np.sin(5 * t)  # a wobbly, concave star, as a hand draws it
    px, py = r * np.cos(t), r * np.sin(t)
    got = in_polygon(xy, px, py)
    # Reference: the same even-odd rule over every point and every edge, no banding or bounding box.
    qx, qy = xy[:, 0].astype(float)[:, None], xy[:, 1].astype(float)[:, None]
    x0, y0, x1, y1 = px[None], py[None], np.roll(px, -1)[None], np.roll(py, -1)[None]
    crosses = ((y0 > qy) != (y1 > qy)) & (qx < x0 + (qy - y0) * (x1 - x0) / (y1 - y0))
    np.testing.assert_array_equal(got, crosses.sum(axis=1) % 2 == 1)
    assert 6_000 < got.sum() < 24_000
