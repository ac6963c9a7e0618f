"""From a lasso or box drawn on the map to the exact sentences inside it.

Above :data:`~allabel_core.views.figures.DRAW_ALL_UP_TO` points the map draws
only a sample of them over a density layer, so the points Plotly reports as
selected are a sample too. The shapes themselves are exact: Streamlit's
selection event carries every box (``event["selection"]["box"]``: ``x`` and
``y`` as ``[from, to]``) and every lasso (``["lasso"]``: the polygon's
vertices in ``x`` and ``y``), in data coordinates of the axes named by
``xref``/``yref``. :func:`ids_in_selection` tests every point of the layout
against them, so queueing a lasso at 100k sentences queues all of them.

Several shapes (a shift-drag adds one) select their union, as in Plotly. A
point on a box's edge or on a lasso's boundary counts as inside. Polygons
follow the even-odd rule, so a self-crossing lasso leaves out the parts it
encloses twice, the way Plotly fills it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DimensionError

# Points closer than this to a shape's boundary (relative to the shape's
# size) count as on it; float32 coordinates round-trip through JSON.
_EDGE = 1e-9


@dataclass(frozen=True)
class Shape:
    """One drawn selection: ``kind`` is ``"box"`` or ``"lasso"``; ``x`` and
    ``y`` are the box's two corners or the lasso's vertices."""

    kind: str
    x: tuple[float, ...]
    y: tuple[float, ...]


def selection_shapes(event, *, xref: str = "x", yref: str = "y") -> list[Shape]:
    """The boxes and lassos of a Streamlit plotly selection event drawn on
    the axes ``xref``/``yref``, in the order drawn. A box needs two corners
    and a lasso three vertices; anything less (a click) is not a shape."""
    if not event:
        return []
    selection = event["selection"] if "selection" in event else {}
    out = []
    for kind, least in (("box", 2), ("lasso", 3)):
        for s in (selection[kind] if kind in selection else None) or []:
            if not isinstance(s, Mapping):
                continue
            if s.get("xref", xref) not in (xref, None) or s.get("yref", yref) not in (yref, None):
                continue
            try:
                xs = tuple(float(v) for v in s.get("x") or ())
                ys = tuple(float(v) for v in s.get("y") or ())
            except (TypeError, ValueError):
                continue
            if len(xs) != len(ys) or len(xs) < least or not np.isfinite(xs + ys).all():
                continue
            out.append(Shape(kind, xs, ys))
    return out


def in_box(xy: np.ndarray, x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Which rows of ``xy`` (``(n, 2)``) lie in the box spanning ``x`` and
    ``y`` (each ``[from, to]`` in either order), edges included."""
    xy = _points(xy)
    x0, x1 = sorted((float(x[0]), float(x[-1])))
    y0, y1 = sorted((float(y[0]), float(y[-1])))
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def in_polygon(xy: np.ndarray, x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Which rows of ``xy`` (``(n, 2)``) lie in the polygon with vertices
    ``x``, ``y`` (closed implicitly; concave and self-crossing ones by the
    even-odd rule), boundary included.

    A crossing-number test vectorised over the points: only points inside
    the polygon's bounding box are tested, sorted by y, and each edge looks
    only at the points level with it, so a hand-drawn lasso of hundreds of
    short edges costs about one pass over the points it covers.
    """
    xy = _points(xy)
    px = np.asarray(x, dtype=np.float64).ravel()
    py = np.asarray(y, dtype=np.float64).ravel()
    if len(px) != len(py):
        raise DimensionError(f"a polygon needs as many x as y, got {len(px)} and {len(py)}")
    out = np.zeros(len(xy), dtype=bool)
    if len(px) < 3 or not len(xy):
        return out
    cand = np.flatnonzero((xy[:, 0] >= px.min()) & (xy[:, 0] <= px.max())
                          & (xy[:, 1] >= py.min()) & (xy[:, 1] <= py.max()))
    if not len(cand):
        return out
    # Sorted by y, each edge touches only the points in its own band of y.
    cand = cand[np.argsort(xy[cand, 1], kind="stable")]
    qx, qy = xy[cand, 0], xy[cand, 1]
    inside = np.zeros(len(cand), dtype=bool)
    edge = np.zeros(len(cand), dtype=bool)
    tol = _EDGE * max(np.ptp(px), np.ptp(py), 1e-300)
    for x0, y0, x1, y1 in zip(px, py, np.roll(px, -1), np.roll(py, -1)):
        lo = np.searchsorted(qy, min(y0, y1) - tol, side="left")
        hi = np.searchsorted(qy, max(y0, y1) + tol, side="right")
        if lo >= hi:
            continue
        bx, by = qx[lo:hi], qy[lo:hi]
        # Even-odd: a ray to +x crosses this edge (half-open in y, so a vertex counts once).
        straddles = (y0 > by) != (y1 > by)
        if y1 != y0 and straddles.any():
            inside[lo:hi] ^= straddles & (bx < x0 + (by - y0) * (x1 - x0) / (y1 - y0))
        # On the edge: within a hair of its line and of its extent.
        dist = np.abs((x1 - x0) * (by - y0) - (y1 - y0) * (bx - x0)) / max(np.hypot(x1 - x0, y1 - y0), 1e-300)
        edge[lo:hi] |= (dist <= tol) & (bx >= min(x0, x1) - tol) & (bx <= max(x0, x1) + tol)
    out[cand] = inside | edge
    return out


def in_shapes(xy: np.ndarray, shapes: Sequence[Shape]) -> np.ndarray:
    """Which rows of ``xy`` lie in any of ``shapes`` (their union)."""
    xy = _points(xy)
    mask = np.zeros(len(xy), dtype=bool)
    for s in shapes:
        mask |= in_box(xy, s.x, s.y) if s.kind == "box" else in_polygon(xy, s.x, s.y)
    return mask


def ids_in_selection(event, ids: Sequence[str], xy: np.ndarray) -> list[str] | None:
    """The ids of every point of the layout (``ids`` aligned with ``xy``)
    inside the event's boxes and lassos, in layout order; None when the
    event holds no box or lasso (a click, or nothing), so the caller reads
    the clicked points instead."""
    shapes = selection_shapes(event)
    if not shapes:
        return None
    xy = _points(xy)
    if len(ids) != len(xy):
        raise DimensionError(f"{len(ids)} ids but {len(xy)} points")
    return [str(ids[i]) for i in np.flatnonzero(in_shapes(xy, shapes))]


def _points(xy) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise DimensionError(f"points must be an (n, 2) array, got shape {xy.shape}")
    return xy
