"""What a person sees, in a real browser (Debian chromium + playwright).

One session, in order: create the sample project, lay out the map, run the
three stages, lasso points on the map and queue them, run the curve, label a
sentence with the keyboard and see the live curve get its point, look at a
prediction; then SIGKILL the server, restart it and find the label still
there; finally upload a file holding an XSS probe and see it shown as text,
on the Predictions page and in the map's hover label. Screenshots of every page go to
``tests/artifacts/`` (git-ignored); with ``ALLABEL_SCREENSHOT_DIR`` set, small
copies of the map and the curve go there too (for the README).

Slow on purpose (a cold start embeds the pool and compiles UMAP): marked
``browser``, skipped with the reason when chromium or playwright is missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import browser_helpers as B

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PROBE = "Probe <img src=x onerror=alert(1)> in a LiFePO4 cathode <script>alert(2)</script> film."


def open_project(root: Path):
    from allabel_core.project import Project, list_projects

    (info,) = [i for i in list_projects(root / "projects") if i.name.startswith("Sample")]
    return Project.open(info.path)


def test_dashboard_end_to_end(browser, tmp_path):
    env = B.server_env(tmp_path)
    log = ARTIFACTS / "streamlit.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    shots = Path(os.environ["ALLABEL_SCREENSHOT_DIR"]) if os.environ.get("ALLABEL_SCREENSHOT_DIR") else None
    dialogs: list[str] = []
    server = B.StreamlitServer(ROOT, env, log=log).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url)
        B.wait_idle(page)

        # Home: the sample project in one click.
        B.open_or_create_sample_project(page)
        B.screenshot(page, ARTIFACTS / "1_home.png")

        # Map: laid out once (progress shown meanwhile), then the three stages.
        B.goto_page(page, "Map")
        B.wait_for_map(page)
        B.click_key(page, "map_run_all")
        page.get_by_text("What the last run added, and why").wait_for(timeout=B.SLOW_MS)
        B.wait_for_map(page)
        project = open_project(tmp_path)
        picked = project.selections.table()
        assert picked["stage"].value_counts().to_dict() == stage_counts(project)
        B.screenshot(page, ARTIFACTS / "2_map_stages.png")
        map_png = ARTIFACTS / "map_chart.png"
        page.locator(".st-key-map_chart").screenshot(path=str(map_png))

        # A lasso over the left half of the plot queues exactly the points inside it.
        ids = B.lasso(page, [(0.05, 0.05), (0.5, 0.05), (0.45, 0.95), (0.05, 0.9)])
        assert len(ids) > 10
        page.get_by_text(f"{len(ids)} selected").wait_for()
        B.click_key(page, "map_enqueue")
        page.get_by_text(re.compile(r"^Queued \d+ new sentences")).first.wait_for()
        sel = project.selections.table()
        manual = set(sel.loc[sel["stage"] == "manual", "sentence_id"])
        assert manual == set(ids) - set(picked["sentence_id"])
        B.screenshot(page, ARTIFACTS / "3_map_lasso.png")

        # Curve: a short experiment, points appearing as they finish.
        B.goto_page(page, "Curve")
        page.locator(".st-key-curve_budgets input").fill("0.05,0.1,0.2")
        page.locator(".st-key-curve_seeds input").fill("2")
        page.locator(".st-key-curve_seeds input").press("Enter")
        B.wait_idle(page)
        B.click_key(page, "curve_run")
        # While it runs the Run button is a Stop button; it comes back when the last point is in.
        page.wait_for_function("() => document.querySelector('.st-key-curve_stop')", timeout=60_000)
        page.wait_for_function(
            "() => !document.querySelector('.st-key-curve_stop') && document.querySelector('.st-key-curve_run')",
            timeout=B.SLOW_MS)
        B.wait_idle(page)
        assert not page.get_by_text("Experiment failed").count()
        assert len(project.records.curve_results("experiment")) == 3 * (2 * 4 + 1) + 1
        B.screenshot(page, ARTIFACTS / "4_curve.png")
        curve_png = ARTIFACTS / "curve_chart.png"
        page.locator(".st-key-curve_chart").screenshot(path=str(curve_png))

        # Label: select a word with the mouse, then type 1 (the first entity type) and N (confirm & next).
        B.goto_page(page, "Label")
        B.give_annotator_name(page, "tester")
        B.wait_annotator(page)
        first_id = project.selections.queue()[0]
        assert B.annotator_attr(page, "data-sid") == first_id
        i, word_text = B.annotator_eval(page, """(root) => {
            const t = [...root.querySelectorAll('[data-token-index]')].find((t) => /^\\w+$/.test(t.textContent));
            return [Number(t.getAttribute('data-token-index')), t.textContent]; }""")
        B.annotator_token(page, i).click()
        page.keyboard.press("1")
        B.wait_annotator_settled(page)
        page.locator(f"{B.ANNOTATOR} mark[data-status='accepted']").first.wait_for()
        B.screenshot(page, ARTIFACTS / "5_label.png")
        page.keyboard.press("n")
        B.wait_annotator_settled(page)
        label = project.schema.names[0]
        assert project.labels.state(first_id) == "confirmed"
        spans = project.labels.spans(first_id, ("confirmed",))
        assert [(s.text, s.label) for s in spans] == [(word_text, label)]

        # Back on the curve, the person's own curve has its first point (1 confirmed sentence).
        B.goto_page(page, "Curve")
        page.get_by_text("you (confirmed labels)").first.wait_for(timeout=B.SLOW_MS)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stProgress\"]')", timeout=B.SLOW_MS)
        live = project.records.curve_results("live")
        assert list(live["n_labeled"]) == [1]
        B.screenshot(page, ARTIFACTS / "5_curve_live.png")

        # Predictions: one sentence's demonstrations, spans and gold difference.
        B.goto_page(page, "Predictions")
        if page.locator(".st-key-pred_run").count():
            B.click_key(page, "pred_run")
        page.get_by_text("Retrieved demonstrations").wait_for(timeout=120_000)
        B.screenshot(page, ARTIFACTS / "6_predictions.png")

        # SIGKILL, restart, and the label is still there.
        project.close()
        server.kill()
        server = B.StreamlitServer(ROOT, env, port=server.port, log=log).start()
        page.goto(server.url)
        B.wait_idle(page)
        B.open_or_create_sample_project(page)
        page.locator("[data-testid='stMetricValue']", has_text="1 / ").first.wait_for()
        B.goto_page(page, "Label")
        B.give_annotator_name(page, "tester")
        B.wait_annotator(page)
        page.keyboard.press("p")
        B.wait_annotator_settled(page)
        mark = page.locator(f"{B.ANNOTATOR} mark[data-status='accepted']").first
        mark.wait_for()
        assert word_text in mark.inner_text() and label in mark.inner_text()
        B.screenshot(page, ARTIFACTS / "7_after_restart.png")

        # An uploaded file with an XSS probe: the probe shows as text, nothing runs.
        B.goto_page(page, "Home")
        upload = tmp_path / "probe.txt"
        upload.write_text(PROBE + "\nA second sentence about TiO2 films.\nA third one on MOF porosity.\n")
        page.locator(".st-key-home_upload input[type=file]").set_input_files(str(upload))
        B.wait_idle(page)
        B.click_key(page, "home_create")
        # The sample's metrics are on screen already: wait for the new project's own heading.
        page.get_by_role("heading", name="probe").wait_for()
        B.goto_page(page, "Predictions")
        page.get_by_text("<img src=x onerror=alert(1)>", exact=False).first.wait_for()
        assert page.locator("img[src='x']").count() == 0 and page.locator("main script").count() == 0
        B.screenshot(page, ARTIFACTS / "8_xss_probe.png")
        B.goto_page(page, "Map")
        B.wait_for_map(page)
        hover = B.hover_point(page, "line-1")
        assert "<img src=x onerror=alert(1)>" in hover and page.locator(".hoverlayer img").count() == 0
        B.screenshot(page, ARTIFACTS / "9_xss_hover.png", full=False)
        assert dialogs == [], f"a script ran: {dialogs}"
        if shots is not None:
            assert B.save_small_png(map_png, shots / "map.png") is not None
            assert B.save_small_png(curve_png, shots / "curve.png") is not None
    finally:
        server.kill()


def stage_counts(project) -> dict:
    from allabel_core.project.tasks import stage_quotas

    return {k: v for k, v in stage_quotas(project).items() if v}


QUOTED = 'He said "TiO2 <b>films</b>" & grew them on sapphire.'


def test_map_click_compare_and_gaps(browser, tmp_path):
    """On the sample project: one click in the default (lasso) mode opens a
    sentence and draws its demonstration lines, as do clicks in box and pan
    mode; compare shows random's picks beside ALLabel's with their coverage;
    gaps lets a lasso queue an unserved region. Then a sentence holding ``"``
    and ``<b>`` reads as typed in its hover label."""
    # Embeddings and the layout are cached across runs of this test (the end-to-end test covers a cold start).
    env = B.server_env(tmp_path, cache=ARTIFACTS / "cache-map")
    log = ARTIFACTS / "streamlit-map.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = Path(os.environ["ALLABEL_SCREENSHOT_DIR"]) if os.environ.get("ALLABEL_SCREENSHOT_DIR") else None
    dialogs: list[str] = []
    server = B.StreamlitServer(ROOT, env, log=log).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url)
        B.wait_idle(page)
        B.open_or_create_sample_project(page)
        B.goto_page(page, "Map")
        B.wait_for_map(page)
        B.click_key(page, "map_run_all")
        page.get_by_text("What the last run added, and why").wait_for(timeout=B.SLOW_MS)
        B.wait_for_map(page)
        project = open_project(tmp_path)
        texts = dict(zip(project.pool_ids(), project.pool().texts))
        chosen = set(project.selections.table()["sentence_id"])

        # One click in the default mode (lasso): the sentence panel and dashed lines to the
        # chosen sentences that would be retrieved once labeled (nothing is confirmed yet).
        assert page.evaluate("() => document.querySelector('.st-key-map_chart .js-plotly-plot')._fullLayout.dragmode") == "lasso"
        sid = B.click_point(page, among=chosen)  # a chosen one: its panel also says why it was picked
        panel = page.locator(".st-key-map_sentence")
        panel.filter(has_text=texts[sid][:40]).wait_for()
        assert f"Sentence {sid}" in panel.inner_text()
        lines = B.trace_by_name(page, "would be retrieved once labeled")
        k = project.settings["k"]
        assert lines is not None and lines["x"].count(None) == k
        assert {s for s in panel.locator("table").last.inner_text().split() if s in chosen}  # the linked sentences
        assert "Why picked" in panel.inner_text()
        B.shot_of(page, [".st-key-map_chart", ".st-key-map_sentence"], ARTIFACTS / "map_click.png")

        # Box and pan mode: a click opens another sentence just the same.
        opened = [sid]
        for mode in ("select", "pan"):
            B.set_drag_mode(page, mode)
            sid = B.click_point(page, exclude=opened)
            opened.append(sid)
            page.locator(".st-key-map_sentence", has_text=f"Sentence {sid}").wait_for()
            assert B.trace_by_name(page, "would be retrieved once labeled")["x"].count(None) == k
        B.set_drag_mode(page, "lasso")
        B.click_key(page, "map_focus_close")

        # Compare: random and ALLabel drawn, the others a legend click away, with their coverage.
        page.locator(".st-key-map_view label", has_text="compare:").first.click()
        B.wait_idle(page)
        page.get_by_text("mean similarity").first.wait_for(timeout=B.SLOW_MS)
        B.wait_for_map(page)
        budget = project.settings["budget"]
        for name in ("random", "ALLabel"):
            layer = B.trace_by_name(page, name)
            assert layer["visible"] is True and len(layer["x"]) == budget
        assert B.trace_by_name(page, "core-set")["visible"] == "legendonly"
        table = page.locator(".st-key-map_compare_table")
        table.wait_for()
        B.shot_of(page, [".st-key-map_view", ".st-key-map_chart", ".st-key-map_compare_table"], ARTIFACTS / "map_compare.png")

        # Gaps: a lasso around the least served region queues exactly those sentences.
        page.locator(".st-key-map_view label", has_text="gaps:").first.click()
        B.wait_idle(page)
        B.wait_for_map(page)
        page.get_by_text("Mean highest similarity to a chosen sentence").wait_for()
        B.shot_of(page, [".st-key-map_view", ".st-key-map_chart"], ARTIFACTS / "map_gaps.png")
        before = set(project.selections.queue())
        ids = B.lasso(page, [(0.05, 0.05), (0.35, 0.05), (0.35, 0.5), (0.05, 0.5)])
        assert ids
        page.get_by_text(f"{len(ids)} selected").wait_for()
        B.click_key(page, "map_enqueue")
        page.get_by_text(re.compile(r"^Queued \d+ new sentences")).first.wait_for()
        assert set(project.selections.queue()) == before | (set(ids) - chosen)

        # A sentence holding " and <b> reads as typed in its hover label, and nothing turns bold.
        B.goto_page(page, "Home")
        B.wait_idle(page)
        upload = tmp_path / "quoted.txt"
        upload.write_text(QUOTED + "\nA second sentence about ZnO nanowires.\nA third one on MOF porosity.\n")
        page.locator(".st-key-home_upload input[type=file]").set_input_files(str(upload))
        B.wait_idle(page)
        B.click_key(page, "home_create")
        page.get_by_text("Confirmed / budget").wait_for()
        B.goto_page(page, "Map")
        B.wait_for_map(page)
        hover = B.hover_point(page, "line-1")
        assert QUOTED in hover and "&quot;" not in hover and "&lt;" not in hover
        assert page.locator(".hoverlayer .hovertext tspan[style*='bold']").count() == 0
        fill = page.evaluate("() => getComputedStyle(document.querySelector('.hoverlayer .hovertext text')).fill")
        assert fill in ("rgb(17, 17, 17)", "#111111")  # dark text ...
        bg = page.evaluate("() => document.querySelector('.hoverlayer .hovertext path').style.fill")
        assert bg in ("rgb(255, 255, 255)", "#ffffff")  # ... on a light label
        B.screenshot(page, ARTIFACTS / "map_hover_quoted.png", full=False)
        assert dialogs == []
        if shots is not None:
            for name in ("map_click", "map_compare", "map_gaps"):
                assert B.save_small_png(ARTIFACTS / f"{name}.png", shots / f"{name}.png") is not None
        project.close()
    finally:
        server.kill()
