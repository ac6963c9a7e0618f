"""The Map page at 100,000 sentences, in a real browser (Debian chromium + playwright).

The project is generated with its layout already stored, as a finished
layout leaves it (nothing is embedded or laid out here: that is measured in
``benchmarks/bench_map_scale.py``). The page must draw the map within 5
seconds of the click on "Map", timed to the points on the screen in a fresh
browser page (its own cache, so the chart's scripts load too). The machine
is shared, so a load spike gets up to two more fresh pages; every try is
printed. Then a box and a lasso drawn with the mouse must select, and the
box queue, every sentence inside them: tens of thousands, not only the few
thousand points drawn.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

import browser_helpers as B
from allabel_core.views import figures as F

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
N = 100_000
RENDER_LIMIT_S = 5.0


def crossing_test(xy, xs, ys):
    """The even-odd rule written out over every point and edge: the oracle
    for what a lasso holds (points exactly on an edge are measure zero here)."""
    px, py = np.asarray(xs, float), np.asarray(ys, float)
    x0, y0, x1, y1 = px, py, np.roll(px, -1), np.roll(py, -1)
    inside = np.zeros(len(xy), bool)
    qx, qy = xy[:, 0].astype(float), xy[:, 1].astype(float)
    for a, b, c, d in zip(x0, y0, x1, y1):
        if b == d:
            continue
        inside ^= ((b > qy) != (d > qy)) & (qx < a + (qy - b) * (c - a) / (d - b))
    return inside


def selected_count(page) -> int:
    head = page.locator("h3", has_text=re.compile(r"^\d+ selected$")).first
    head.wait_for(timeout=30_000)
    return int(head.text_content().split()[0])


def test_map_at_100k_renders_quickly_and_a_box_and_a_lasso_queue_every_sentence_inside(browser, tmp_path):
    project, ids, xy = B.scale_project(tmp_path / "projects", N, queued=300)
    queued_before = set(project.selections.queue())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "streamlit-map-scale.log"
    log.write_bytes(b"")
    server = B.StreamlitServer(ROOT, B.server_env(tmp_path), log=log).start()
    try:
        tries, page = [], None
        while len(tries) < 3 and (not tries or tries[-1] >= RENDER_LIMIT_S):
            if page is not None:
                page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.get_by_text("Open a project").first.wait_for(timeout=120_000)
            B.wait_idle(page)
            B.click_key(page, "home_open")
            # Opened from the sidebar, as a person does: timed to the points on the screen.
            t0 = time.perf_counter()
            page.locator('[data-testid="stSidebarNav"] a', has_text="Map").first.click()
            B.wait_map_drawn(page)
            tries.append(time.perf_counter() - t0)
        print(f"100k map drawn in {', '.join(f'{s:.2f}' for s in tries)} s; load {os.getloadavg()}")
        assert tries[-1] < RENDER_LIMIT_S, f"the 100k map took {', '.join(f'{s:.1f}' for s in tries)} s to draw"
        B.wait_idle(page)
        drawn = page.evaluate("""() => document.querySelector('.st-key-map_chart .js-plotly-plot')._fullData
                                     .filter(t => t.customdata).reduce((n, t) => n + t.customdata.length, 0)""")
        assert drawn == F.SAMPLE_POINTS + 300  # a sample of the rest, and every queued sentence
        page.get_by_text("the grey shading counts every one of them").wait_for()

        # A box: every sentence inside, by the plain comparison on the full layout.
        B.set_drag_mode(page, "select")
        (shape,) = B.drag_through(page, [(0.25, 0.2), (0.6, 0.75)])
        assert shape["type"] == "rect"
        x0, x1 = sorted((shape["x0"], shape["x1"]))
        y0, y1 = sorted((shape["y0"], shape["y1"]))
        inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        want = {ids[i] for i in np.flatnonzero(inside)}
        assert len(want) > 10 * drawn  # far more than the map draws
        B.wait_idle(page)
        assert selected_count(page) == len(want)
        B.screenshot(page, ARTIFACTS / "map_100k_box.png", full=False)
        B.click_key(page, "map_enqueue")
        deadline = time.time() + 60  # the click's rerun may start after wait_idle returned, on a busy machine
        while (queued := set(project.selections.queue())) == queued_before and time.time() < deadline:
            time.sleep(0.2)
        assert queued == queued_before | want, (len(queued), len(queued_before), len(want))
        # The map drawn after the click shows them queued by hand (the legend counts all of them).
        page.wait_for_function("(n) => document.querySelector('.st-key-map_chart .js-plotly-plot')._fullData"
                               ".some(t => (t.name || '').startsWith(`manual (${n.toLocaleString('en-US')};`))",
                               arg=len(queued), timeout=60_000)
        B.wait_idle(page)

        # A lasso, concave, through the other side of the map.
        B.set_drag_mode(page, "lasso")
        shapes = B.drag_through(page, [(0.55, 0.15), (0.9, 0.2), (0.7, 0.45), (0.92, 0.8), (0.5, 0.7), (0.55, 0.15)])
        (path,) = [s["path"] for s in shapes if s["type"] == "path"]
        xs, ys = B.lasso_vertices(path)
        want_lasso = {ids[i] for i in np.flatnonzero(crossing_test(xy, xs, ys))}
        assert len(want_lasso) > drawn
        B.wait_idle(page)
        assert selected_count(page) == len(want_lasso)
        B.screenshot(page, ARTIFACTS / "map_100k_lasso.png", full=False)
    finally:
        server.kill()
        project.close()
