"""Dashboard timings: cold and warm start to an interactive map, and the map
at 20,000 points.

1. Cold start (in a fresh subprocess, fresh cache dir, fresh projects dir):
   create the sample project, load the embedding model, embed the pool,
   compile and run UMAP, build the map figure and serialise it as Streamlit
   does. Warm start: the same in a new process with the same caches and the
   project already there (the layout is read from the project; nothing is
   embedded or laid out again).
2. With ``--browser`` (needs /usr/bin/chromium and playwright): the same two
   starts through ``streamlit run`` and a real browser, from process start to
   the map's points being drawn.
3. The map at N points (default 20,000, random unit vectors laid out at
   random: the figure does not care where points came from): figure build,
   JSON serialisation (bytes sent to the browser), and a selection
   round-trip: a lasso event holding every point inside a region, as the
   browser sends it (JSON string), through Streamlit's own deserialiser and
   :func:`allabel_core.views.figures.ids_from_selection` back to sentence ids.

Prints medians over ``--repeats`` runs.

    .venv/bin/python benchmarks/bench_dashboard.py [--n 20000] [--repeats 5] [--browser]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from allabel_core.views import figures as F  # noqa: E402
from allabel_core.views import project_data  # noqa: E402

# What one start does, run in a child process so nothing is shared with us.
START = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from allabel_core.project import tasks as J
from allabel_core.vectors import layout as P
from allabel_core.vectors.embed import Embedder
from allabel_core.views import figures as F, project_data
from allabel_core.project import Project, create_sample_project, list_projects
marks = {{}}
found = list_projects()
project = Project.open(found[0].path) if found else create_sample_project()
marks["project"] = time.perf_counter() - t0
stored = project.records.projection()
if stored is None:
    warm = P.warm_up()
    marks["umap_compiled"] = time.perf_counter() - t0
    embedder = Embedder()
    vectors = J.pool_vectors(project, embedder)
    marks["embedded"] = time.perf_counter() - t0
    xy = P.stored_layout(project.records, project.pool_ids(), vectors)
else:
    xy = stored[1]
marks["laid_out"] = time.perf_counter() - t0
import plotly.io as pio
ids = project.pool_ids()
fig = F.map_figure(ids, xy, project.pool().texts, **project_data.map_coloring(project, "stage"))
pio.to_json(fig, validate=False)
marks["map_built"] = time.perf_counter() - t0
print(json.dumps(marks))
"""


def median(xs):
    return statistics.median(xs)


def load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def run_start(root: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", START.format(root=str(root))],
        env=env, capture_output=True, text=True, timeout=900, cwd=str(root),
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_starts(repeats: int) -> None:
    cold, warm = [], []
    for _ in range(max(1, repeats // 2)):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "ALLABEL_CACHE_DIR": f"{tmp}/cache", "ALLABEL_PROJECTS_DIR": f"{tmp}/projects",
                   "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
            cold.append(run_start(ROOT, env))
            warm.append(run_start(ROOT, env))
    for name, runs in (("cold", cold), ("warm", warm)):
        keys = list(runs[0])
        parts = ", ".join(f"{k} {median([r[k] for r in runs]):.2f}s" for k in keys)
        print(f"{name} start to a built map (subprocess, {len(runs)} runs, cumulative): {parts}; load {load()}")


def bench_browser(repeats: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import browser_helpers as B

    if (why := B.unavailable()) is not None:
        print(f"browser start: skipped ({why})")
        return
    from playwright.sync_api import sync_playwright

    def start_to_map(browser, env) -> float:
        t0 = time.perf_counter()
        server = B.StreamlitServer(ROOT, env).start()
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            B.wait_idle(page)
            B.open_or_create_sample_project(page)
            B.goto_page(page, "Map")
            B.wait_for_map(page)
            page.close()
            return time.perf_counter() - t0
        finally:
            server.kill()

    cold, warm = [], []
    with sync_playwright() as pw:
        browser = B.launch(pw)
        for _ in range(max(1, repeats // 2)):
            with tempfile.TemporaryDirectory() as tmp:
                env = B.server_env(Path(tmp))
                cold.append(start_to_map(browser, env))
                warm.append(start_to_map(browser, env))
        browser.close()
    print(f"browser, `streamlit run` start to drawn map ({len(cold)} runs): cold {median(cold):.1f} s "
          f"(first run: model load, embedding, numba compile, UMAP), warm {median(warm):.1f} s (server restart, "
          f"project reopened, layout read from the project); all runs cold {', '.join(f'{x:.1f}' for x in cold)}, "
          f"warm {', '.join(f'{x:.1f}' for x in warm)}; load {load()}")


def bench_map(n: int, repeats: int) -> None:
    import plotly.io as pio
    from streamlit.elements.plotly_chart import PlotlyChartSelectionSerde

    rng = np.random.default_rng(0)
    ids = [f"s{i:06d}" for i in range(n)]
    xy = rng.standard_normal((n, 2)).astype(np.float32)
    words = ["LiFePO4", "cathode", "annealed", "at", "500", "°C", "thin", "film", "perovskite", "<b>x</b>", "yield"]
    texts = [" ".join(rng.choice(words, size=rng.integers(8, 30))) for _ in range(n)]
    stage = {ids[i]: s for i, s in zip(rng.choice(n, 1000, replace=False), ["diversity", "similarity"] * 500)}
    groups = F.stage_groups(ids, stage)

    build, dump, trip = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fig = F.map_figure(ids, xy, texts, groups=groups, links=(ids[0], ids[1:6]))
        build.append(time.perf_counter() - t)
        t = time.perf_counter()
        payload = pio.to_json(fig, validate=False)
        dump.append(time.perf_counter() - t)
        # The lasso: every point within radius 1 of the origin, per trace, as the
        # browser reports it (point indices restart in each trace).
        points = []
        for c, tr in enumerate(fig.data):
            if tr.customdata is None:
                continue
            px, py = np.asarray(tr.x), np.asarray(tr.y)
            for k in np.flatnonzero(px * px + py * py < 1.0):
                points.append({"curve_number": c, "point_number": int(k), "point_index": int(k),
                               "x": float(px[k]), "y": float(py[k]), "customdata": [tr.customdata[k]]})
        ui_value = json.dumps({"selection": {"points": points, "point_indices": [p["point_index"] for p in points],
                                             "box": [], "lasso": [{"xref": "x", "yref": "y", "x": [], "y": []}]}})
        t = time.perf_counter()
        event = PlotlyChartSelectionSerde().deserialize(ui_value)
        got = F.ids_from_selection(event)
        trip.append(time.perf_counter() - t)
    want = {i for i, (x, y) in zip(ids, xy) if x * x + y * y < 1.0}
    assert set(got) == want, "selection round-trip lost or invented ids"
    print(f"map with {n:,} points ({type(fig.data[0]).__name__}, {len(fig.data)} traces): "
          f"build {median(build) * 1000:.0f} ms, JSON {median(dump) * 1000:.0f} ms "
          f"({len(payload) / 1e6:.1f} MB); lasso of {len(got):,} points -> ids "
          f"{median(trip) * 1000:.1f} ms (medians of {repeats})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--browser", action="store_true", help="also time starts through streamlit and chromium")
    ap.add_argument("--skip-starts", action="store_true")
    args = ap.parse_args()
    bench_map(args.n, args.repeats)
    if not args.skip_starts:
        bench_starts(args.repeats)
    if args.browser:
        bench_browser(args.repeats)


if __name__ == "__main__":
    main()
