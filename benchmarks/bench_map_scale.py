"""The map at scale: layout, figure size, first render and lasso round trip.

For each N (default 100,000 and 20,000, for a ratio):

1. Layout of N synthetic sentence vectors (384-d unit rows, 200 clusters as
   in docs/scale.md: a random centre plus 0.8·N(0, I), normalised), with the
   parameters the project uses at that size
   (``ProjectionParams.for_size``): neighbour search and UMAP timed
   apart, after UMAP's numba warm-up. The recall@15 of the neighbours is
   measured on 1,000 sampled rows against exact search (cheap: those rows
   only), and so is the share of each row's 14 nearest points on the map
   that come from its own cluster (how well the map keeps the clusters). ``--exact`` also times the exact neighbour search at every N (at
   100k: N² dot products, minutes).
2. The figure the Map page sends, right after a 5 % budget has been chosen:
   bytes of JSON and build + serialise time, now and as every point was
   drawn before (``draw_all_up_to`` = N, the same code path as before the
   density layer).
3. With chromium and playwright: a project of N generated sentences with its
   layout stored, served by ``streamlit run``. First render: from the click
   on "Map" in the sidebar to the points drawn (a new browser session each
   time, median of ``--repeats``; the first also pays the server's imports).
   Lasso round trip: from releasing the mouse to the page showing the count
   of sentences inside (each lasso a different one, median of
   ``--repeats``), checked against the exact count on the full layout.

The load average is printed with every figure (the machine is shared).

    nice -n 10 .venv/bin/python benchmarks/bench_map_scale.py [--n 100000,20000] [--repeats 3] [--exact] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from allabel_core.vectors import layout as P  # noqa: E402
from allabel_core.views import figures as F  # noqa: E402
from allabel_core.views import lasso as L  # noqa: E402


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def clustered(n: int, d: int = 384, centres: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows around ``centres`` random centres, and each row's centre."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    label = rng.integers(0, centres, n)
    x = c[label]
    x += 0.8 * rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, label


def bench_layout(n: int, exact: bool) -> None:
    import faiss
    from sklearn.neighbors import NearestNeighbors

    x, label = clustered(n)
    params = P.ProjectionParams.for_size(n)
    marks = {}
    t0 = time.perf_counter()
    xy = P.layout_2d(x, params, cache=False, progress=lambda d, t: marks.setdefault(d, time.perf_counter()))
    total = time.perf_counter() - t0
    knn_s, umap_s = marks[1] - marks[0], marks[2] - marks[1]
    k = min(params.n_neighbors, n - 1)
    ids, _ = P.knn_graph(x, k, index=params.neighbours, seed=params.seed)
    rows = np.random.default_rng(1).choice(n, 1000, replace=False)
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    _, truth = flat.search(x[rows], k)
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, ids[rows])])
    # Whether the map keeps the clusters: the share of each point's nearest points on the map from its own
    # cluster (within a cluster the vectors are isotropic noise, which no 2-D map can keep).
    near = NearestNeighbors(n_neighbors=k).fit(xy).kneighbors(xy[rows], return_distance=False)[:, 1:]
    kept = float(np.mean(label[near] == label[rows][:, None]))
    print(f"layout N={n:,} ({params.as_dict()['neighbours']}, {params.n_epochs or 'default'} epochs): "
          f"total {total:.1f} s = neighbours {knn_s:.1f} s + UMAP {umap_s:.1f} s; neighbour recall@{k} "
          f"{recall:.3f} (1,000 rows against exact); {k - 1} nearest on the map from the same cluster {kept:.3f}; "
          f"load {load()}",
          flush=True)
    if exact and params.neighbours != "exact":
        t = time.perf_counter()
        P.knn_graph(x, k, index="exact")
        print(f"  exact neighbours at N={n:,}: {time.perf_counter() - t:.1f} s; load {load()}", flush=True)


def page_figure(n: int, draw_all_up_to: int):
    """The Map page's figure at a 5 % budget chosen by the first stage."""
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(n)]
    xy = rng.standard_normal((n, 2)).astype(np.float32)
    texts = [f"Sentence {i} on thin perovskite films annealed at 500 °C, whose efficiency rose to 21.3 % in batch "
             f"{i % 40}." for i in range(n)]
    chosen = [ids[i] for i in rng.choice(n, n // 20, replace=False)]
    groups = F.stage_groups(ids, dict.fromkeys(chosen, "diversity"))
    return F.map_figure(ids, xy, texts, groups=groups, keep=chosen, draw_all_up_to=draw_all_up_to)


def bench_figure(n: int, repeats: int) -> None:
    import plotly.io as pio

    out = {}
    for name, cap in (("now", F.DRAW_ALL_UP_TO), ("every point drawn (before)", n)):
        build, dump = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            fig = page_figure(n, cap)
            build.append(time.perf_counter() - t)
            t = time.perf_counter()
            payload = pio.to_json(fig, validate=False)
            dump.append(time.perf_counter() - t)
        drawn = sum(len(t.customdata) for t in fig.data if t.customdata is not None)
        out[name] = len(payload)
        print(f"figure N={n:,}, {name}: {len(payload) / 1e6:.2f} MB JSON, {drawn:,} points drawn, build "
              f"{statistics.median(build) * 1000:.0f} ms + serialise {statistics.median(dump) * 1000:.0f} ms "
              f"(medians of {repeats}); load {load()}", flush=True)
    print(f"  figure N={n:,}: {out['every point drawn (before)'] / out['now']:.1f}x smaller now", flush=True)


def bench_browser(n: int, repeats: int) -> None:
    import browser_helpers as B

    if (why := B.unavailable()) is not None:
        print(f"browser N={n:,}: skipped ({why})")
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        t = time.perf_counter()
        project, ids, xy = B.scale_project(tmp / "projects", n, queued=n // 200)
        made = time.perf_counter() - t
        server = B.StreamlitServer(ROOT, B.server_env(tmp), log=tmp / "streamlit.log").start()
        browser = B.launch(pw)
        renders, trips, counts = [], [], []
        try:
            for r in range(repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(server.url)
                page.get_by_text("Open a project").first.wait_for(timeout=120_000)
                B.wait_idle(page)
                B.click_key(page, "home_open")
                t = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a', has_text="Map").first.click()
                B.wait_map_drawn(page)
                renders.append(time.perf_counter() - t)
                B.wait_idle(page)
                B.set_drag_mode(page, "lasso")
                a = 0.2 + 0.1 * r  # a different lasso each time
                shapes = B.drag_through(page, [(a, 0.2), (a + 0.35, 0.25), (a + 0.2, 0.5), (a + 0.3, 0.8),
                                               (a - 0.05, 0.7), (a, 0.2)], steps=6)
                up = time.perf_counter()
                (path,) = [s["path"] for s in shapes if s["type"] == "path"]
                want = int(L.in_polygon(xy, *B.lasso_vertices(path)).sum())
                page.locator("h3", has_text=re.compile(rf"^{want} selected$")).first.wait_for(timeout=60_000)
                trips.append(time.perf_counter() - up)
                counts.append(want)
                page.close()
        finally:
            browser.close()
            server.kill()
            project.close()
    print(f"browser N={n:,} (project generated with its layout in {made:.1f} s): first render "
          f"{statistics.median(renders):.2f} s median of {len(renders)} ({', '.join(f'{x:.2f}' for x in renders)}); "
          f"lasso round trip {statistics.median(trips):.2f} s median ({', '.join(f'{x:.2f}' for x in trips)}) "
          f"for {', '.join(f'{c:,}' for c in counts)} sentences inside; load {load()}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="100000,20000", help="comma-separated sizes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--exact", action="store_true", help="also time exact neighbours where IVF is used")
    ap.add_argument("--no-layout", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.n.split(",") if s]
    print(f"cores {os.cpu_count()}, load {load()}", flush=True)
    if not args.no_layout:
        t = time.perf_counter()
        P.warm_up()
        print(f"UMAP warm-up (numba compile, once per process): {time.perf_counter() - t:.1f} s", flush=True)
        for n in sizes:
            bench_layout(n, args.exact)
    for n in sizes:
        bench_figure(n, args.repeats)
    if not args.no_browser:
        for n in sizes:
            bench_browser(n, args.repeats)


if __name__ == "__main__":
    main()
