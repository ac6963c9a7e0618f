"""Driving the dashboard in Debian's chromium with Python playwright.

Playwright's own browser download is blocked on these machines, so the
system ``/usr/bin/chromium`` is launched by path. The server is a real
``streamlit run app.py`` on 127.0.0.1 and a free port, with its own projects
and cache folders; :meth:`StreamlitServer.kill` sends SIGKILL (no clean
shutdown), as a crash would.

Widgets are found by the ``st-key-<key>`` class Streamlit gives every keyed
element, pages by their sidebar link (a fresh page load would start a new
session and forget the open project).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SLOW_MS = 600_000  # first map: embedding, numba compilation and UMAP on a shared 2-core machine


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (make browser installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


def launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(root: Path, cache: Path | None = None) -> dict:
    return {
        **os.environ,
        "ALLABEL_PROJECTS_DIR": str(root / "projects"),
        "ALLABEL_CACHE_DIR": str(cache or root / "cache"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class StreamlitServer:
    """``streamlit run app.py`` headless on 127.0.0.1."""

    def __init__(self, root: Path, env: dict, port: int | None = None, log: Path | None = None):
        self.root, self.env, self.port = Path(root), env, port or free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> StreamlitServer:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(self.port),
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; as a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)


# -- page actions -----------------------------------------------------------------
def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the script run the last action caused has finished."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && !document.querySelector('[data-testid=\"stStatusWidgetRunningManIcon\"]')",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(300)


def click_key(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()
    wait_idle(page)


def goto_page(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
    wait_idle(page)


def open_or_create_sample_project(page) -> None:
    """On Home: open the most recent project if there is one, else create the sample."""
    if page.locator(".st-key-home_open button").count():
        click_key(page, "home_open")
    else:
        click_key(page, "home_sample")
    page.get_by_text("Confirmed / budget").wait_for()


def wait_for_map(page, timeout_ms: int = SLOW_MS) -> None:
    """Until the map's points are drawn (SVG or WebGL)."""
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace, .js-plotly-plot canvas", timeout=timeout_ms)
    wait_idle(page)


def lasso(page, fractions) -> list[str]:
    """Draw a lasso with the mouse through points given as fractions of the
    plot area; return the ids Plotly marked selected (from ``customdata``)."""
    page.locator('.js-plotly-plot .modebar-btn[data-val="lasso"]').first.click()
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    pts = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in fractions]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for x, y in [*pts[1:], pts[0]]:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()
    ids = page.evaluate(
        """() => document.querySelector('.js-plotly-plot').data.flatMap(t =>
               (t.customdata && t.selectedpoints) ? t.selectedpoints.map(i => String(t.customdata[i])) : [])"""
    )
    wait_idle(page)
    return ids


def hover_point(page, sentence_id: str) -> str:
    """Move the mouse onto one sentence's point on the map; return the text
    of the hover label Plotly draws (as the person reads it)."""
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x, y = page.evaluate(
        """(sid) => {
            const gd = document.querySelector('.js-plotly-plot');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const t = gd._fullData.find(t => t.customdata && Array.from(t.customdata).map(String).includes(sid));
            const i = Array.from(t.customdata).map(String).indexOf(sid);
            const box = gd.getBoundingClientRect();
            return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];
        }""",
        sentence_id,
    )
    page.mouse.move(x + 8, y + 8)
    page.mouse.move(x, y, steps=4)
    page.locator(".hoverlayer .hovertext").first.wait_for()
    return page.locator(".hoverlayer .hovertext").first.text_content()


def screenshot(page, path: Path, *, full: bool = True) -> Path:
    """A screenshot of the page; ``full`` widens the viewport to the main
    block's height first (Streamlit scrolls inside its own container)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if full:
        size = page.viewport_size
        height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1000")
        page.set_viewport_size({"width": size["width"], "height": min(max(height + 40, size["height"]), 4000)})
        page.wait_for_timeout(800)
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
    else:
        page.screenshot(path=str(path))
    return path


def save_small_png(src: Path, dest: Path, max_bytes: int = 300_000) -> Path | None:
    """Copy a screenshot for the README, shrunk until it is under ``max_bytes``
    (Pillow, if present; else copied only when already small enough)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        if src.stat().st_size <= max_bytes:
            shutil.copyfile(src, dest)
            return dest
        return None
    img = Image.open(src).convert("RGB")
    width = img.width
    while True:
        im = img if width == img.width else img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
        im.quantize(colors=128).save(dest, optimize=True)
        if dest.stat().st_size <= max_bytes or width < 500:
            return dest
        width = int(width * 0.85)


# -- the span annotator (a components-v2 element, in a shadow root) -------------------
ANNOTATOR = '[data-testid="allabel-annotator"]'
_SHADOW = "document.querySelector('[data-testid=\"stBidiComponentIsolated\"]').shadowRoot"


def queue_first(project, n: int) -> list[str]:
    """Queue the first ``n`` pool sentences by hand (no stages needed)."""
    ids = project.pool_ids()[:n]
    project.selections.enqueue(ids)
    return ids


def open_label(page, server, project, *, annotator: str | None) -> None:
    """Open ``project`` (the only one in the server's folder) on Home, go to
    the Label page, and give the annotator's name if asked."""
    page.goto(server.url)
    page.get_by_text("Open a project").first.wait_for(timeout=120_000)
    wait_idle(page)
    if page.locator(".st-key-home_open button").count():
        click_key(page, "home_open")
    goto_page(page, "Label")
    if annotator:
        give_annotator_name(page, annotator)
        wait_annotator(page)


def give_annotator_name(page, name: str) -> None:
    """Answer the Label page's "who is labeling?" if it asks (waits for the
    question or the annotator, whichever the page shows)."""
    page.wait_for_selector(f".st-key-label_annotator_name input, {ANNOTATOR}", timeout=120_000)
    box = page.locator(".st-key-label_annotator_name input")
    if box.count():
        box.fill(name)
        click_key(page, "label_annotator_start")


def wait_annotator(page, timeout_ms: int = 60_000) -> None:
    """Until the annotator has drawn a sentence and has nothing waiting for the server."""
    page.locator(f"{ANNOTATOR}[data-state='ready']").wait_for(timeout=timeout_ms)
    wait_annotator_settled(page, timeout_ms)


def wait_annotator_settled(page, timeout_ms: int = 30_000) -> None:
    """Until every action drawn in the annotator has been answered by the server."""
    page.wait_for_function(
        f"() => {{ const r = {_SHADOW}?.querySelector('{ANNOTATOR}');"
        " return r && r.getAttribute('data-pending') === '0'; }", timeout=timeout_ms)


def annotator_eval(page, fn: str):
    """Evaluate ``fn(root)`` on the annotator's root element inside its shadow root."""
    return page.evaluate(f"() => ({fn})({_SHADOW}.querySelector('{ANNOTATOR}'))")


def annotator_token(page, i: int):
    return page.locator(f"{ANNOTATOR} [data-token-index='{i}']")


def annotator_attr(page, name: str) -> str | None:
    return page.locator(ANNOTATOR).get_attribute(name)


def bench_len(page, series: str) -> int:
    return page.evaluate(f"() => window.__bench.{series}.length")


def press_and_wait_next(page, key: str) -> None:
    """Press a sentence key (N, S, P, U) and wait until the server has answered."""
    page.keyboard.press(key)
    wait_annotator_settled(page)


def drag(page, first, last) -> None:
    """Press the mouse on one element and release it on another (a drag)."""
    a, b = first.bounding_box(), last.bounding_box()
    page.mouse.move(a["x"] + 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] / 2, steps=6)
    page.mouse.up()


def point_position(page, sentence_id: str | None = None, *, exclude=(), among=None,
                   chart: str = "map_chart") -> tuple[str, float, float]:
    """A map point's id and its position on the page: ``sentence_id``'s, or
    (None) the point farthest from any other point on screen (so a click
    cannot land on a neighbour), among the ids ``among`` (default: those of
    the largest trace), ``exclude`` left out."""
    return tuple(page.evaluate(
        """([sid, exclude, among, chart]) => {
            const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.getBoundingClientRect();
            const traces = gd._fullData.filter(t => t.customdata && t.visible === true);
            const at = (t, i) => [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];
            if (sid) {
                const t = traces.find(t => Array.from(t.customdata).map(String).includes(sid));
                return [sid, ...at(t, Array.from(t.customdata).map(String).indexOf(sid))];
            }
            const all = gd._fullData.filter(t => t.visible === true && t.x)
                .flatMap(t => Array.from(t.x, (_, i) => at(t, i)));
            const biggest = traces.reduce((a, b) => (b.customdata.length > a.customdata.length ? b : a));
            const cands = among
                ? traces.flatMap(t => Array.from(t.customdata, (c, i) => [t, i]).filter(([t, i]) => among.includes(String(t.customdata[i]))))
                : Array.from(biggest.customdata, (_, i) => [biggest, i]);
            let best = null, far = -1;
            for (const [t, i] of cands) {
                if (exclude.includes(String(t.customdata[i]))) continue;
                const [x, y] = at(t, i);
                let near = Infinity;
                for (const [u, v] of all) {
                    const d = Math.hypot(u - x, v - y);
                    if (d > 0.5 && d < near) near = d;
                }
                if (near > far) { far = near; best = [String(t.customdata[i]), x, y]; }
            }
            return best;
        }""",
        [sentence_id, list(exclude), among and list(among), chart],
    ))


def click_point(page, sentence_id: str | None = None, *, exclude=(), among=None) -> str:
    """Click one map point (as a person does: hover, then click); returns its
    id. Without ``sentence_id``, the most isolated point (see :func:`point_position`)."""
    page.locator(".st-key-map_chart .js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    sid, x, y = point_position(page, sentence_id, exclude=exclude, among=among)
    page.mouse.move(x + 6, y + 6)
    page.mouse.move(x, y, steps=3)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)
    wait_idle(page)
    return sid


def set_drag_mode(page, mode: str) -> None:
    """Pick a drag mode in Plotly's tool bar: ``lasso``, ``select`` (box) or ``pan``."""
    page.locator(".st-key-map_chart .js-plotly-plot").first.hover()
    page.locator(f'.st-key-map_chart .modebar-btn[data-val="{mode}"]').first.click()
    page.wait_for_function(
        "(m) => document.querySelector('.st-key-map_chart .js-plotly-plot')._fullLayout.dragmode === m", arg=mode)


def trace_by_name(page, prefix: str) -> dict | None:
    """``{name, x, y, n}`` of the map's first trace whose name starts with ``prefix``."""
    return page.evaluate(
        """(prefix) => {
            const gd = document.querySelector('.st-key-map_chart .js-plotly-plot');
            const t = gd._fullData.find(t => (t.name || '').startsWith(prefix));
            return t ? {name: t.name, x: Array.from(t.x), y: Array.from(t.y), visible: t.visible ?? true} : null;
        }""",
        prefix,
    )


def shot_of(page, selectors: list[str], path: Path) -> Path:
    """A screenshot of the page region covering the elements ``selectors``
    name (the viewport grows to hold them: Streamlit scrolls in its own container)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1000")
    page.set_viewport_size({"width": size["width"], "height": min(max(height + 40, size["height"]), 6000)})
    page.wait_for_timeout(800)
    boxes = [page.locator(s).first.bounding_box() for s in selectors]
    boxes = [b for b in boxes if b]
    x0, y0 = min(b["x"] for b in boxes) - 8, min(b["y"] for b in boxes) - 8
    x1, y1 = max(b["x"] + b["width"] for b in boxes) + 8, max(b["y"] + b["height"] for b in boxes) + 8
    page.screenshot(path=str(path), clip={"x": max(0, x0), "y": max(0, y0), "width": x1 - max(0, x0),
                                          "height": y1 - max(0, y0)})
    page.set_viewport_size(size)
    page.wait_for_timeout(300)
    return path


# -- the map at scale -------------------------------------------------------------------
_TOPICS = ["Perovskite solar films", "Lithium cathode cycling", "Graphene oxide sheets", "Zeolite cracking catalysts",
           "Bismuth telluride thermoelectrics", "Doped TiO2 photocatalysis", "Solid electrolyte conductivity",
           "Magnetic nanoparticle coercivity"]


def scale_project(projects_dir: Path, n: int, *, queued: int = 0, seed: int = 0):
    """A pool of ``n`` generated sentences with a map layout already stored
    (as :func:`allabel_core.vectors.layout.stored_layout` leaves it), so the
    Map page draws at once: nothing is embedded or laid out. The layout is
    40 Gaussian clouds of different sizes; sentence ``i`` names its cloud's
    topic (short sentences: creating the project is most of the time). ``queued``: that many sentences, spread over the pool, queued by
    hand. Returns ``(project, ids, xy)``."""
    import numpy as np

    from allabel_core.data.corpus import Corpus
    from allabel_core.data.sentence import Sentence
    from allabel_core.project import create_project
    from allabel_core.vectors.layout import ProjectionParams

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-12, 12, (40, 2))
    spread = rng.uniform(0.3, 1.4, 40)
    cloud = rng.choice(40, size=n, p=rng.dirichlet(np.full(40, 2.0)))
    xy = (centres[cloud] + spread[cloud, None] * rng.standard_normal((n, 2))).astype(np.float32)
    pool = Corpus([Sentence.from_text(f"s{i}", f"{_TOPICS[c % len(_TOPICS)]} {i}.") for i, c in enumerate(cloud)])
    project = create_project(f"map scale {n}", pool, None, None, projects_dir=projects_dir)
    ids = project.pool_ids()
    project.records.save_projection(ids, xy, ProjectionParams().as_dict())
    if queued:
        project.selections.enqueue(ids[:: max(1, n // queued)][:queued])
    return project, ids, xy


MAP_DRAWN_JS = """() => {
    const gd = document.querySelector('.st-key-map_chart .js-plotly-plot');
    return !!(gd && gd._fullData && gd._fullData.some(t => t.type === 'scattergl' && t.x && t.x.length)
              && gd.querySelector('canvas') && (!gd._fullData.some(t => t.type === 'heatmap') || gd.querySelector('.hm image')));
}"""


def wait_map_drawn(page, timeout_ms: int = 60_000) -> None:
    """Until the map chart's WebGL points (and its density layer, if it has
    one) are on the page, then one animation frame more (Plotly draws in it)."""
    page.wait_for_function(MAP_DRAWN_JS, timeout=timeout_ms, polling="raf")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")


def plot_box(page, chart: str = "map_chart") -> dict:
    """The plot area (where points are drawn) of a chart, in page pixels."""
    return page.locator(f".st-key-{chart} .js-plotly-plot .nsewdrag").first.bounding_box()


def drag_through(page, fractions, *, chart: str = "map_chart", steps: int = 10) -> list[dict]:
    """Press, move through ``fractions`` of the plot area and release (a box
    from the first to the last point, or a lasso through all of them,
    whichever drag mode is on); return the shapes Plotly recorded
    (``layout.selections``: ``type``, ``path`` or ``x0..y1``, in data units),
    read before the rerun the selection causes redraws the chart."""
    page.locator(f".st-key-{chart} .js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    box = plot_box(page, chart)
    pts = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in fractions]
    read = f"""() => (document.querySelector('.st-key-{chart} .js-plotly-plot').layout.selections || [])
                 .map(s => ({{type: s.type, path: s.path || null, x0: s.x0, x1: s.x1, y0: s.y0, y1: s.y1}}))"""
    before = page.evaluate(read)
    page.mouse.move(*pts[0])
    page.mouse.down()
    for x, y in pts[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()
    page.wait_for_function(f"(before) => JSON.stringify(({read})()) !== JSON.stringify(before)", arg=before,
                           timeout=10_000, polling=20)
    return page.evaluate(read)


def lasso_vertices(path: str) -> tuple[list[float], list[float]]:
    """A Plotly selection path ``M x,y L x,y ... Z`` as vertex lists."""
    xs, ys = [], []
    for part in path.replace("M", "").replace("Z", "").split("L"):
        x, y = part.split(",")
        xs.append(float(x))
        ys.append(float(y))
    return xs, ys
