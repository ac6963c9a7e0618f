"""The dashboard's charts, as plain functions: the map and the curve.

Each returns a Plotly figure, so a notebook draws the same map and curve as
the dashboard; the tables are in :mod:`.tables`. Nothing here imports
Streamlit.

Map points carry sentence ids in ``customdata`` (one id per point):
``point_index`` in a selection event counts within one trace, and colouring
splits points into one trace per group, so ids are the only safe way back
(:func:`ids_from_selection`). Every piece of sentence text is HTML-escaped
before Plotly sees it: Plotly renders a subset of HTML in hover labels, and
decodes only a few entities (``&amp; &lt; &gt;`` and numeric ones, not
``&quot;``), so ``<``, ``>`` and ``&`` are escaped and quotes are left as typed.

Large maps: up to :data:`DRAW_ALL_UP_TO` points every point is drawn with its
hover text. Above it, the figure of every point would be megabytes of JSON
per rerun (hover text dominates: ~200 bytes a point, about 20 MB at 100k),
so :func:`map_figure` draws a density layer of every point (a 2-D histogram
counted here with NumPy, :func:`density_trace`) and, over it, a capped
sample of points (:func:`sample_points`: the opened sentence and its links,
up to :data:`SAMPLE_POINTS` of the chosen, highlighted and layered ones, and
as many of the rest, each in a fixed pseudo-random order, so the same points
stay drawn from one rerun to the next). A lasso or box then selects from the layout, not from the drawn
points: see :mod:`.lasso`.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, DimensionError
import pandas as pd
import plotly.graph_objects as go

from ..scoring import SCORING
from ..selection.stages import MANUAL, MANUAL_COLOR, STAGE_NAMES, STAGES
from ..data.sentence import Span

# Plotly's own threshold: SVG slows to a crawl above about a thousand points.
WEBGL_ABOVE = 1000
# Above this many points the map draws a density layer and a sample (see the module docstring).
DRAW_ALL_UP_TO = 20_000
# How many points a sampled map draws: this many of the chosen ones and this many of the rest.
SAMPLE_POINTS = 3_000
# Cells of the density layer across the map's wider side (square cells).
DENSITY_BINS = 120
DENSITY_COLORS = ("#eef1f5", "#c5ccd8", "#8f9bb0", "#58667e", "#2b3445")

NOT_SELECTED = "not selected"
STAGE_ORDER = (*STAGE_NAMES, MANUAL, NOT_SELECTED)
STATUS_ORDER = ("confirmed", "suggested", "queued", "skipped", "not labeled")
ERROR_ORDER = ("correct", "missed", "spurious", "missed and spurious", "no prediction", "no gold")
COLORS = {
    **{s.name: s.color for s in STAGES},
    MANUAL: MANUAL_COLOR,
    "confirmed": "#2ca02c",
    "suggested": "#ff7f0e",
    "queued": "#1f77b4",
    "skipped": "#9467bd",
    "correct": "#2ca02c",
    "missed": "#1f77b4",
    "spurious": "#ff7f0e",
    "missed and spurious": "#d62728",
}
BACKGROUND = "#c9ccd1"  # groups that mean "nothing to show" sit in grey, below the rest
# The "predicted entities" colouring: a person's sentences, then a type per predicted sentence.
CONFIRMED_GROUP, NO_ENTITY, NOT_PREDICTED = "confirmed by a person", "no entity predicted", "not predicted yet"
QUIET = {NOT_SELECTED, "not labeled", "no prediction", "no gold", NOT_PREDICTED}
STRATEGY_COLORS = {
    "allabel": "#d62728",
    "random": "#7f7f7f",
    "coreset": "#1f77b4",
    "similarity": "#2ca02c",
    "uncertainty": "#9467bd",
}
CURVE_TITLE = "F1 against annotation budget"
CURVE_YAXIS = "entity F1, strict IOB2 (seqeval)"
COVERAGE_TITLE = "Demonstration entity coverage against annotation budget"
COVERAGE_YAXIS = "demonstration entity coverage@k"
COVERAGE_NOTE = "share of a target sentence's gold entities among its k retrieved demonstrations' entities"
METRICS = {"f1": "F1", "coverage": "coverage@k"}


# -- text --------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _wrap(width: int) -> re.Pattern:
    """Lines of at most ``width`` characters broken at whitespace (a longer
    word gets a line of its own)."""
    return re.compile(rf"\S.{{0,{width - 1}}}(?=\s|$)|\S+")


def hover_text(text: str, *, width: int = 80, limit: int = 600, extra: Iterable[str] = ()) -> str:
    """Sentence text for a Plotly hover label: escaped, wrapped, capped.

    Escaping comes first, then lines break only at whitespace, so an entity
    such as ``&lt;`` is never cut (it holds no whitespace). ``extra`` lines
    (plain text) are escaped and appended in italics.
    """
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # A regex, not textwrap: twenty thousand hover labels must take milliseconds.
    body = "<br>".join(_wrap(width).findall(plotly_escape(text)))
    tail = "".join(f"<br><i>{plotly_escape(e)}</i>" for e in extra)
    return body + tail


def plotly_escape(text: str) -> str:
    """Text for Plotly's HTML subset: ``&``, ``<`` and ``>`` escaped (no tag
    can form), quotes left alone (Plotly would show ``&quot;`` literally)."""
    return html.escape(str(text), quote=False)


# -- colour groups -------------------------------------------------------------
def stage_groups(ids: Sequence[str], stage_of: Mapping[str, str]) -> list[str]:
    """The stage that picked each sentence, or ``"not selected"``."""
    return [stage_of.get(i) or NOT_SELECTED for i in ids]


def status_groups(ids: Sequence[str], status_of: Mapping[str, str]) -> list[str]:
    """Each sentence's label status, or ``"not labeled"``."""
    return [status_of.get(i) or "not labeled" for i in ids]


def error_groups(
    ids: Sequence[str],
    predicted: Mapping[str, Iterable[Span]],
    gold: Mapping[str, Iterable[Span]],
) -> list[str]:
    """Per sentence, how its predicted spans compare with gold (strict:
    start, end and label must all match, as in strict IOB2).

    ``"missed"``: some gold span was not predicted; ``"spurious"``: some
    predicted span is not gold; a wrong boundary or type is both. Sentences
    without gold are ``"no gold"``; with gold but no prediction,
    ``"no prediction"``.
    """
    out = []
    for i in ids:
        if i not in gold:
            out.append("no gold")
        elif i not in predicted:
            out.append("no prediction")
        else:
            g = {s.key() for s in gold[i]}
            p = {s.key() for s in predicted[i]}
            missed, spurious = bool(g - p), bool(p - g)
            out.append(
                "missed and spurious" if missed and spurious else "missed" if missed else "spurious" if spurious else "correct"
            )
    return out


def predicted_groups(
    ids: Sequence[str], confirmed: Iterable[str], predicted: Mapping[str, Iterable[str]], types: Sequence[str] = (),
) -> list[str]:
    """Per sentence, what "predict the rest" found: ``"confirmed by a
    person"``; else the type predicted most often in it (ties: first in
    ``types``, the schema's order), ``"no entity predicted"``, or ``"not
    predicted yet"``. ``predicted``: id -> the labels of its predicted spans."""
    done = set(confirmed)
    rank = {t: i for i, t in enumerate(types)}
    out = []
    for i in ids:
        if i in done:
            out.append(CONFIRMED_GROUP)
        elif i not in predicted:
            out.append(NOT_PREDICTED)
        else:
            labels = list(predicted[i])
            if not labels:
                out.append(NO_ENTITY)
            else:
                counts = {lab: labels.count(lab) for lab in labels}
                out.append(min(counts, key=lambda lab: (-counts[lab], rank.get(lab, len(rank)), lab)))
    return out


COLOR_MODES = ("stage", "label status", "predicted entities", "predicted uncertainty", "errors against gold")




def _ordered(groups: Sequence[str], order: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(groups))
    known = [g for g in order if g in present]
    rest = sorted(g for g in present if g not in order)
    ordered = known + rest
    # Quiet groups first, so the informative points are drawn on top.
    return [g for g in ordered if g in QUIET] + [g for g in ordered if g not in QUIET]


# -- the map -------------------------------------------------------------------
def sample_points(n: int, *, always: Iterable[int] = (), first: Iterable[int] = (), size: int = SAMPLE_POINTS,
                  seed: int = 0) -> np.ndarray:
    """Which of ``n`` points a sampled map draws: sorted row numbers.

    Every row in ``always`` (the opened sentence and its links), up to
    ``size`` rows of ``first`` (the chosen and highlighted ones), and up to
    ``size`` of the other rows; so at most ``2·size`` plus ``always``, and
    the unchosen part of the map is drawn however much is chosen. Where a
    tier holds more than ``size`` rows, they are taken in one fixed
    pseudo-random order (``seed``): a uniform sample of the tier, the same on
    every rerun, and choosing a few more sentences swaps in only as many
    points as it must.
    """
    size = max(0, int(size))
    order = np.random.default_rng(seed).permutation(n)
    tier = np.full(n, 2, dtype=np.int8)
    tier[np.fromiter(first, dtype=np.int64)] = 1
    tier[np.fromiter(always, dtype=np.int64)] = 0
    by_tier = tier[order]
    picked = [order[by_tier == 0], order[by_tier == 1][:size], order[by_tier == 2][:size]]
    return np.sort(np.concatenate(picked))


def density_counts(xy: np.ndarray, x_range: Sequence[float], y_range: Sequence[float],
                   bins: int = DENSITY_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2-D histogram of every point over the map's ranges, in square cells
    (``bins`` across the wider side): ``(x centres, y centres, counts)``
    with ``counts[row_y, col_x]`` as Plotly's heatmap reads ``z``."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    (x0, x1), (y0, y1) = (float(v) for v in x_range), (float(v) for v in y_range)
    cell = max(x1 - x0, y1 - y0) / max(1, int(bins))
    nx, ny = max(1, round((x1 - x0) / cell)), max(1, round((y1 - y0) / cell))
    counts, ex, ey = np.histogram2d(xy[:, 0], xy[:, 1], bins=(nx, ny), range=((x0, x1), (y0, y1)))
    return (ex[:-1] + ex[1:]) / 2, (ey[:-1] + ey[1:]) / 2, counts.T


def density_colorscale(peak: float, colors: Sequence[str] = DENSITY_COLORS) -> list:
    """Colour stops for counts from 1 to ``peak``, evenly spaced on a log
    scale (a sparse cell stays visible beside a cell a thousand times
    fuller), while hover still shows the count itself."""
    peak = max(float(peak), 2.0)
    stops = []
    for k, c in enumerate(colors):
        f = k / (len(colors) - 1)
        stops.append([(peak**f - 1.0) / (peak - 1.0), c])
    stops[0][0], stops[-1][0] = 0.0, 1.0
    return stops


def density_trace(xy: np.ndarray, x_range: Sequence[float], y_range: Sequence[float], *,
                  bins: int = DENSITY_BINS, xaxis: str | None = None, yaxis: str | None = None) -> go.Heatmap:
    """Every point as shading: :func:`density_counts` drawn as a heatmap,
    empty cells left blank, the count in the hover label. It carries no ids
    (a lasso over it selects through :mod:`.lasso`)."""
    cx, cy, counts = density_counts(xy, x_range, y_range, bins)
    z = np.where(counts > 0, counts, np.nan).astype(np.float32)
    peak = float(counts.max()) if counts.size else 1.0
    return go.Heatmap(
        x=cx.astype(np.float32), y=cy.astype(np.float32), z=z, zmin=1, zmax=max(peak, 2.0),
        colorscale=density_colorscale(peak), showscale=False, name="every sentence (density)",
        hovertemplate="%{z:,.0f} sentences in this cell<extra></extra>", hoverongaps=False,
        xaxis=xaxis, yaxis=yaxis,
    )


def map_figure(
    ids: Sequence[str],
    xy: np.ndarray,
    texts: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    values: Sequence[float] | None = None,
    color_by: str = "stage",
    order: Sequence[str] = STAGE_ORDER + STATUS_ORDER + ERROR_ORDER,
    colors: Mapping[str, str] | None = None,
    links: tuple[str, Sequence[str]] | None = None,
    links_name: str = "retrieved demonstrations",
    links_dash: str = "solid",
    highlight: Iterable[str] = (),
    highlight_name: str = "just added",
    focus: str | None = None,
    regions: Sequence = (),
    layers: Mapping[str, Sequence[str]] | None = None,
    visible_layers: Iterable[str] | None = None,
    layer_styles: Mapping[str, tuple[str, str]] | None = None,
    colorscale: str | list = "Viridis",
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
    webgl: bool | None = None,
    height: int = 620,
    keep: Iterable[str] = (),
    draw_all_up_to: int = DRAW_ALL_UP_TO,
    sample_size: int = SAMPLE_POINTS,
) -> go.Figure:
    """The pool as a scatter of its 2-D projection.

    Args:
        ids: ``n`` sentence ids; each point's ``customdata`` is its id.
        xy: ``(n, 2)`` coordinates (e.g. from :func:`allabel_core.vectors.layout.project`).
        texts: ``n`` sentences, shown (escaped) on hover.
        groups: a category per point (see :func:`stage_groups`,
            :func:`status_groups`, :func:`error_groups`): one trace per
            category, legend in ``order``.
        values: instead of ``groups``, a number per point (NaN = none), e.g.
            predicted uncertainty: one coloured trace plus one grey trace for
            the points without a value.
        color_by: the legend / colour-bar title.
        colors: a colour per group name, over the defaults (e.g. the schema's type colours).
        links: ``(query_id, demonstration_ids)``: lines from one sentence to
            the demonstrations retrieved for it (:func:`link_segments`),
            named ``links_name``, drawn ``links_dash``.
        highlight: ids drawn with a black ring (e.g. what a stage just
            added), named ``highlight_name``.
        focus: the id of the sentence opened by a click: a large ring.
        regions: :class:`~allabel_core.views.regions.RegionLabel` s, written
            at their centres.
        layers: name → ids, one marker trace per name on top of the points
            (e.g. each strategy's picks); the legend toggles them, and only
            ``visible_layers`` (default all) start visible; ``layer_styles``
            gives a layer's ``(marker symbol, colour)`` (default
            :data:`LAYER_STYLES` in turn).
        colorscale, value_range: for ``values``.
        webgl: ``Scattergl`` instead of ``Scatter``; default: above
            :data:`WEBGL_ABOVE` points.
        keep: ids to draw first when the map is sampled (the chosen
            sentences: selected, queued, confirmed).
        draw_all_up_to, sample_size: above ``draw_all_up_to`` points, draw a
            density layer of all of them and a sample over it (up to
            ``sample_size`` of ``keep``, ``highlight`` and ``layers``, and as
            many of the rest; :func:`sample_points`); trace names then give
            each group's full size and how many of it are drawn.

    Traces without ``customdata`` (links, rings, the density layer) carry no
    ids, so selections over them map to nothing.
    """
    ids = [str(i) for i in ids]
    xy = np.asarray(xy, dtype=np.float32).reshape(len(ids), 2)
    if len(texts) != len(ids):
        raise DimensionError(f"{len(ids)} ids but {len(texts)} texts")
    highlight, keep = [str(i) for i in highlight], [str(i) for i in keep]
    webgl = len(ids) > WEBGL_ABOVE if webgl is None else webgl
    scatter = go.Scattergl if webgl else go.Scatter
    n = len(ids)
    pos = {i: j for j, i in enumerate(ids)}
    sampled = n > draw_all_up_to
    fig = go.Figure()
    if sampled:
        always = [focus] if focus is not None else []
        if links is not None:
            always += [links[0], *links[1]]
        first = [*highlight, *keep, *(m for members in (layers or {}).values() for m in members)]
        rows = sample_points(n, always=[pos[i] for i in always if i in pos], first=[pos[i] for i in first if i in pos],
                             size=sample_size)
        fig.add_trace(density_trace(xy, _padded(xy[:, 0]), _padded(xy[:, 1], top=0.1)))
    else:
        rows = np.arange(n)
    drawn = np.zeros(n, dtype=bool)
    drawn[rows] = True
    # Object arrays: Plotly validates lists element by element, arrays at once.
    id_arr = np.array(ids, dtype=object)
    hover = np.empty(n, dtype=object)  # only drawn points get (and cost) a hover label
    hover[rows] = [hover_text(texts[j], extra=[f"id {ids[j]}"]) for j in rows]

    def add(mask: np.ndarray, name: str, marker: dict, colors: np.ndarray | None = None, **kw) -> None:
        total = int(mask.sum())
        idx = np.flatnonzero(mask & drawn)
        if colors is not None:
            marker = {**marker, "color": colors[idx]}
        fig.add_trace(
            scatter(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers",
                name=f"{name} ({total:,}; {len(idx):,} drawn)" if sampled else f"{name} ({total})",
                customdata=id_arr[idx],
                hovertext=hover[idx],
                hoverinfo="text",
                marker=marker,
                **kw,
            )
        )

    if values is not None:
        vals = np.asarray(values, dtype=float).reshape(len(ids))
        missing = np.isnan(vals)
        if missing.any():
            add(missing, "no value", {"color": BACKGROUND, "size": 5, "opacity": 0.6})
        marker = {
            "colorscale": colorscale,
            "size": 7,
            # Title at the side and the bar kept low: the top right is the tool bar's.
            "colorbar": {"title": {"text": plotly_escape(color_by), "side": "right"}, "len": 0.75,
                         "y": 0.42, "yanchor": "middle", "thickness": 14},
            "showscale": True,
        }
        if value_range is not None:
            marker["cmin"], marker["cmax"] = value_range
        if (~missing).any():  # an empty trace with a colour bar draws nothing at all in Plotly.js
            add(~missing, color_by, marker, colors=vals)
    else:
        groups = list(groups) if groups is not None else [NOT_SELECTED] * len(ids)
        if len(groups) != len(ids):
            raise DimensionError(f"{len(ids)} ids but {len(groups)} groups")
        arr = np.asarray(groups, dtype=object)
        for g in _ordered(groups, order):
            quiet = g in QUIET
            marker = {"color": BACKGROUND if quiet else {**COLORS, **(colors or {})}.get(g), "size": 5 if quiet else 8}
            if quiet:
                marker["opacity"] = 0.6
            add(arr == g, g, marker)

    if layers:
        shown = set(layers) if visible_layers is None else set(visible_layers)
        for n, (name, members) in enumerate(layers.items()):
            idx = np.array([pos[i] for i in members if i in pos], dtype=np.int64)
            style = (layer_styles or {}).get(name) or LAYER_STYLES[n % len(LAYER_STYLES)]
            add(np.isin(np.arange(len(ids)), idx), name,
                {"symbol": style[0], "color": style[1], "size": 10, "line": {"width": 1, "color": "#fff"}},
                visible=True if name in shown else "legendonly", legendgroup=f"layer-{n}")
    if links is not None:
        lx, ly = link_segments(ids, xy, *links)
        if lx:
            fig.add_trace(
                scatter(x=lx, y=ly, mode="lines", name=links_name,
                        line={"color": "#333", "width": 1.5, "dash": links_dash}, hoverinfo="skip")
            )
    ring = [pos[i] for i in highlight if i in pos]
    if ring:
        fig.add_trace(
            scatter(
                x=xy[ring, 0], y=xy[ring, 1], mode="markers", name=highlight_name, hoverinfo="skip",
                marker={"symbol": "circle-open", "size": 13, "color": "#111", "line": {"width": 1.5}},
            )
        )
    if focus is not None and focus in pos:
        fx, fy = xy[pos[focus]]
        fig.add_trace(scatter(x=[fx], y=[fy], mode="markers", name="opened sentence", hoverinfo="skip",
                              marker={"symbol": "circle-open", "size": 20, "color": "#000", "line": {"width": 3}}))
    for r in regions:
        fig.add_annotation(x=r.x, y=r.y, text=plotly_escape(r.text), showarrow=False,
                           font={"size": 12, "color": "#1b1f24"}, bgcolor="rgba(255,255,255,0.75)",
                           borderpad=2, captureevents=False)
    fig.update_layout(
        title=title,
        height=height,
        # Below the plot: the top right belongs to Plotly's tool bar (lasso, box, zoom).
        legend={"title": {"text": plotly_escape(color_by)}, "itemsizing": "constant", "orientation": "h",
                "y": -0.02, "yanchor": "top", "x": 0},
        xaxis={"visible": False, "range": _padded(xy[:, 0]) if len(ids) else None},
        yaxis={"visible": False, "scaleanchor": "x", "range": _padded(xy[:, 1], top=0.1) if len(ids) else None},
        dragmode="lasso",
        # A band above the points for the tool bar, so no point sits under it.
        margin={"l": 10, "r": 10, "t": 70 if title else 44, "b": 10},
        plot_bgcolor="white",
        hoverlabel=HOVER_LABEL,
        uirevision="map",  # keep zoom and legend toggles across reruns
    )
    return fig


# Dark text on a light label whatever the point's colour (Plotly's default is
# the trace colour, which on the grey background points is unreadable).
HOVER_LABEL = {"bgcolor": "#ffffff", "bordercolor": "#5f6b7a", "font": {"color": "#111111", "size": 13},
               "align": "left"}
# (symbol, colour) per comparison layer, distinct in shape as well as hue.
LAYER_STYLES = [("diamond", "#d62728"), ("square", "#4d4d4d"), ("triangle-up", "#1f77b4"),
                ("cross", "#2ca02c"), ("star", "#9467bd"), ("x", "#8c564b")]
STRATEGY_MARKERS = {"random": ("square", "#4d4d4d"), "coreset": ("triangle-up", "#1f77b4"),
                    "similarity": ("cross", "#2ca02c"), "allabel": ("diamond", "#d62728"),
                    "uncertainty": ("star", "#9467bd")}


def _padded(values: np.ndarray, pad: float = 0.04, top: float | None = None) -> list[float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = (hi - lo) or 1.0
    return [lo - pad * span, hi + (pad if top is None else top) * span]


def link_segments(ids: Sequence[str], xy: np.ndarray, query: str, demos: Sequence[str]) -> tuple[list, list]:
    """Line segments from ``query``'s point to each demonstration's, as
    Plotly draws them: ``x`` and ``y`` lists ``[qx, dx, None, ...]``, one
    ``None``-separated segment per demonstration found on the map (a
    demonstration equal to the query or off the map draws nothing)."""
    pos = {str(i): j for j, i in enumerate(ids)}
    if query not in pos:
        return [], []
    xy = np.asarray(xy, dtype=np.float64).reshape(len(ids), 2)
    qx, qy = (float(v) for v in xy[pos[query]])
    lx: list = []
    ly: list = []
    for d in dict.fromkeys(str(d) for d in demos):
        if d in pos and d != query:
            lx += [qx, float(xy[pos[d], 0]), None]
            ly += [qy, float(xy[pos[d], 1]), None]
    return lx, ly


def gap_values(best: Sequence[float]) -> list[float]:
    """The "gaps" colouring: each sentence's highest similarity to the
    selection (:func:`allabel_core.experiment.coverage.pool_gaps`), clipped to
    ``[0, 1]``, NaN kept (nothing selected)."""
    return [float(np.clip(v, 0.0, 1.0)) if np.isfinite(v) else float("nan") for v in np.asarray(best, dtype=float)]


GAP_RANGE = (0.15, 0.75)  # the colour bar's span: nearly every sentence pair of a corpus falls inside


def gap_colorscale(threshold: float, value_range: tuple[float, float] = GAP_RANGE) -> list:
    """Red below ``threshold`` (a gap: no chosen sentence resembles it),
    white at it, green above, over ``value_range``."""
    lo, hi = value_range
    t = float(np.clip((threshold - lo) / (hi - lo), 0.05, 0.95))
    return [[0.0, "#b2182b"], [t * 0.6, "#ef8a62"], [t, "#f7f7f7"], [t + (1 - t) * 0.4, "#a6dba0"], [1.0, "#1b7837"]]


def side_by_side_figure(
    ids: Sequence[str],
    xy: np.ndarray,
    texts: Sequence[str],
    layers: Mapping[str, Sequence[str]],
    *,
    titles: Mapping[str, str] | None = None,
    layer_styles: Mapping[str, tuple[str, str]] | None = None,
    height: int = 460,
    draw_all_up_to: int = DRAW_ALL_UP_TO,
    sample_size: int = SAMPLE_POINTS,
) -> go.Figure:
    """The same map once per layer, side by side (e.g. random's picks beside
    ALLabel's): the pool in grey in every panel, the layer's ids on top.
    ``titles``: a panel title per layer (e.g. with its coverage). Points
    carry their ids in ``customdata`` as in :func:`map_figure`, so a lasso
    in any panel selects sentences. Above ``draw_all_up_to`` points each
    panel draws the density of the whole pool and a sample of its points,
    as :func:`map_figure` does."""
    from plotly.subplots import make_subplots

    ids = [str(i) for i in ids]
    xy = np.asarray(xy, dtype=np.float32).reshape(len(ids), 2)
    names = list(layers)
    fig = make_subplots(rows=1, cols=max(1, len(names)), horizontal_spacing=0.02,
                        subplot_titles=[plotly_escape((titles or {}).get(n, n)) for n in names])
    n = len(ids)
    sampled = n > draw_all_up_to
    id_arr = np.array(ids, dtype=object)
    hover = np.empty(n, dtype=object)
    pos = {i: j for j, i in enumerate(ids)}
    for c, name in enumerate(names, 1):
        picked = np.array([pos[i] for i in layers[name] if i in pos], dtype=np.int64)
        rest = np.setdiff1d(np.arange(n), picked)
        if sampled:
            rows = sample_points(n, first=picked, size=sample_size)
            picked, rest = np.intersect1d(picked, rows), np.intersect1d(rest, rows)
            fig.add_trace(density_trace(xy, _padded(xy[:, 0]), _padded(xy[:, 1], top=0.1)), row=1, col=c)
        todo = [j for j in np.concatenate([picked, rest]) if hover[j] is None]
        hover[todo] = [hover_text(texts[j], extra=[f"id {ids[j]}"]) for j in todo]
        symbol, color = (layer_styles or {}).get(name) or LAYER_STYLES[(c - 1) % len(LAYER_STYLES)]
        scatter = go.Scattergl if len(picked) + len(rest) > WEBGL_ABOVE else go.Scatter
        for idx, marker, label in ((rest, {"color": BACKGROUND, "size": 4, "opacity": 0.6}, NOT_SELECTED),
                                   (picked, {"color": color, "symbol": symbol, "size": 8}, name)):
            fig.add_trace(scatter(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=f"{label} ({len(idx)})",
                                     customdata=id_arr[idx], hovertext=hover[idx], hoverinfo="text", marker=marker,
                                     showlegend=False), row=1, col=c)
    axis = {"visible": False, "range": _padded(xy[:, 0])} if len(ids) else {"visible": False}
    fig.update_xaxes(**axis)
    fig.update_yaxes(visible=False, range=_padded(xy[:, 1], top=0.1) if len(ids) else None)
    for c in range(1, len(names) + 1):  # each panel keeps the map's proportions
        fig.update_yaxes(scaleanchor=f"x{c if c > 1 else ''}", row=1, col=c)
    fig.update_layout(height=height, dragmode="lasso", plot_bgcolor="white", hoverlabel=HOVER_LABEL,
                      margin={"l": 10, "r": 10, "t": 70, "b": 10}, uirevision="map-side")
    return fig


def ids_from_selection(event) -> list[str]:
    """Sentence ids of the points in a Plotly selection event, in order, once each.

    ``event``: what ``st.plotly_chart(..., on_select="rerun")`` returns (or
    the same dict from session state): ``event["selection"]["points"]``, each
    with ``customdata`` (an id, or a list whose first item is the id).
    Points without ``customdata`` (link lines, rings) are ignored.
    """
    if not event:
        return []
    selection = event["selection"] if "selection" in event else {}
    points = selection["points"] if "points" in selection else []
    out: dict[str, None] = {}
    for p in points:
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if cd is not None and cd != "":
            out.setdefault(str(cd), None)
    return list(out)


# -- the curve -----------------------------------------------------------------
def _hex_rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def curve_summary(results: pd.DataFrame, *, band: str = "minmax", metric: str = "f1") -> pd.DataFrame:
    """Mean of ``metric`` (``"f1"``, or ``"coverage"``: demonstration entity
    coverage@k) per strategy and budget with its spread over seeds.

    ``results``: tidy rows with ``strategy``, ``budget`` (fraction of the
    pool) and the metric (``seed`` optional). Returns ``strategy, budget_pct,
    mean, low, high, seeds``; ``band`` is ``"minmax"`` or ``"std"`` (mean ± std).
    Points without the metric (curves run before it existed) are left out.
    """
    if band not in ("minmax", "std"):
        raise ConfigError(f"band must be 'minmax' or 'std', not {band!r}")
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    cols = ["strategy", "budget_pct", "mean", "low", "high", "seeds"]
    if results is None or len(results) == 0 or metric not in results:
        return pd.DataFrame(columns=cols)
    results = results[pd.to_numeric(results[metric], errors="coerce").notna()]
    if len(results) == 0:
        return pd.DataFrame(columns=cols)
    g = results.assign(**{metric: results[metric].astype(float)}).groupby(["strategy", "budget"], sort=True)[metric]
    s = g.agg(["mean", "min", "max", "std", "count"]).reset_index()
    std = s["std"].fillna(0.0)
    s["low"] = s["min"] if band == "minmax" else s["mean"] - std
    s["high"] = s["max"] if band == "minmax" else s["mean"] + std
    s["budget_pct"] = s["budget"].astype(float) * 100.0
    return s.rename(columns={"count": "seeds"})[cols]


def curve_figure(
    results: pd.DataFrame,
    *,
    band: str = "minmax",
    live: pd.DataFrame | None = None,
    pool_size: int | None = None,
    ceiling_strategy: str = "full",
    height: int = 480,
    metric: str = "f1",
) -> go.Figure:
    """F1 against budget: one line per strategy (mean over seeds, markers),
    a shaded band for the spread over seeds, and the full-pool ceiling as a
    dashed horizontal line.

    Args:
        results: ``run_curve``'s tidy table (``strategy``, ``budget`` as a
            fraction of the pool, ``seed``, ``f1``, ...).
        band: ``"minmax"`` (min–max over seeds) or ``"std"`` (mean ± std).
        live: the person's own curve, ``n_labeled`` and ``f1`` columns;
            drawn against ``n_labeled / pool_size``.
        ceiling_strategy: the strategy drawn as the horizontal ceiling.
        metric: ``"f1"`` or ``"coverage"`` (demonstration entity coverage@k;
            the person's own curve is drawn only for F1).
    """
    fig = go.Figure()
    summary = curve_summary(results, band=band, metric=metric)
    short = METRICS[metric]
    ceiling = summary[summary["strategy"] == ceiling_strategy]
    curves = summary[summary["strategy"] != ceiling_strategy]
    strategies = list(dict.fromkeys(curves["strategy"]))
    # ALLabel last, so its line sits on top of the baselines.
    strategies.sort(key=lambda s: s == "allabel")
    palette = iter(["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"])
    for name in strategies:
        c = curves[curves["strategy"] == name].sort_values("budget_pct")
        color = STRATEGY_COLORS.get(name) or next(palette, "#333333")
        if (c["seeds"] > 1).any():
            fig.add_trace(go.Scatter(
                x=list(c["budget_pct"]) + list(c["budget_pct"][::-1]),
                y=list(c["high"]) + list(c["low"][::-1]),
                mode="lines", fill="toself", fillcolor=_hex_rgba(color, 0.15), line={"width": 0},
                name=f"{name} spread", legendgroup=name, showlegend=False, hoverinfo="skip",
            ))
        fig.add_trace(go.Scatter(
            x=c["budget_pct"], y=c["mean"], mode="lines+markers", name=name, legendgroup=name,
            line={"color": color, "width": 3 if name == "allabel" else 2},
            customdata=np.c_[c["low"], c["high"], c["seeds"]],
            hovertemplate=f"{html.escape(name)}<br>budget %{{x:.3g}}%<br>{short} %{{y:.3f}}"
            " (%{customdata[0]:.3f}–%{customdata[1]:.3f}, %{customdata[2]} seeds)<extra></extra>",
        ))
    if len(ceiling):
        level = float(ceiling["mean"].mean())
        fig.add_hline(
            y=level, line={"dash": "dash", "color": "#111", "width": 1.5},
            annotation_text=f"full pool (ceiling) {short} {level:.3f}", annotation_position="bottom right",
        )
        # A legend entry for the ceiling (add_hline is a shape, not a trace).
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="full pool (ceiling)",
                                 line={"dash": "dash", "color": "#111"}))
    if metric == "f1" and live is not None and len(live) and pool_size:
        lv = live.sort_values("n_labeled")
        fig.add_trace(go.Scatter(
            x=lv["n_labeled"] / pool_size * 100.0, y=lv["f1"], mode="lines+markers",
            name="you (confirmed labels)", line={"color": "#000", "width": 2},
            marker={"symbol": "diamond", "size": 9}, customdata=lv["n_labeled"],
            hovertemplate="you: %{customdata} confirmed (%{x:.3g}%)<br>F1 %{y:.3f}<extra></extra>",
        ))
    fig.update_layout(
        title={"text": f"{CURVE_TITLE if metric == 'f1' else COVERAGE_TITLE}<br><sup>"
               f"{html.escape(SCORING if metric == 'f1' else COVERAGE_NOTE)}; band: "
               f"{'min–max' if band == 'minmax' else '± std'} over seeds</sup>"},
        xaxis={"title": {"text": "budget (% of the pool annotated)"}, "rangemode": "tozero"},
        yaxis={"title": {"text": CURVE_YAXIS if metric == "f1" else COVERAGE_YAXIS}, "rangemode": "tozero"},
        height=height,
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
    )
    fig.update_xaxes(gridcolor="#eee")
    fig.update_yaxes(gridcolor="#eee")
    if not fig.data:
        fig.add_annotation(text="no results yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return fig

