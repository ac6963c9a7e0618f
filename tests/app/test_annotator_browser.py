"""The span annotator as a person uses it, in a real browser (Debian chromium + playwright).

A small project of our own sentences (a repeated word, an XSS probe) is
served by a real ``streamlit run app.py``; the tests click and type on the
Label page and read the project file to see what was saved. Screenshots go
to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import browser_helpers as B

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
REPEATED = "The framework adsorbs CO2 at 1 bar, and its CO2 uptake doubles at 273 K."
XSS = "Probe <img src=x onerror=alert(1)> in a LiFePO4 cathode <script>alert(2)</script> film."
SENTENCES = [
    REPEATED,
    "Thin films of lithium iron phosphate were annealed at 600 °C.",
    "Anatase TiO2 nanoparticles show a band gap of 3.2 eV.",
    XSS,
    "ZIF-8 membranes separate H2 from CO2 under humid conditions.",
    "The 𝛼-Fe2O3 photoanode reached 1.2 mA cm−2 at 1.23 V.",
]
SCHEMA = {"labels": [
    {"name": "MAT", "description": "A material: a compound, formula or named material", "color": "#0072B2"},
    {"name": "PRO", "description": "A property of a material, without its value", "color": "#E69F00"},
    {"name": "VAL", "description": "A value with its unit", "color": "#009E73"},
]}


@pytest.fixture()
def served(tmp_path):
    """A project of SENTENCES, all queued, and a server on it: (server, project)."""
    from allabel_core.data.corpus import Corpus
    from allabel_core.project import create_project
    from allabel_core.data.sentence import Sentence

    pool = Corpus([Sentence.from_text(f"t{i}", text) for i, text in enumerate(SENTENCES)])
    project = create_project("annotator test", pool, schema=SCHEMA, projects_dir=tmp_path / "projects")
    project.selections.enqueue(project.pool_ids())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = B.StreamlitServer(ROOT, B.server_env(tmp_path), log=ARTIFACTS / "streamlit-annotator.log").start()
    try:
        yield server, project
    finally:
        server.kill()
        project.close()


def token_index(text: str, word: str, nth: int = 0) -> int:
    from allabel_core.data.sentence import Sentence

    hits = [i for i, t in enumerate(Sentence.from_text("x", text).tokens) if t.text == word]
    return hits[nth]


def label_word(page, i: int, key: str = "1") -> None:
    B.annotator_token(page, i).click()
    page.keyboard.press(key)
    B.wait_annotator_settled(page)


def open_sentence(page, sid: str) -> None:
    """Walk the queue with P / N until ``sid`` is open (the queue is short)."""
    for _ in range(2 * len(SENTENCES)):
        if B.annotator_attr(page, "data-sid") == sid:
            return
        B.press_and_wait_next(page, "s")
    raise AssertionError(f"{sid} never opened")


def test_repeated_word_drag_refused_overlap_and_xss(browser, served):
    server, project = served
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    B.open_label(page, server, project, annotator="alice")
    assert B.annotator_attr(page, "data-sid") == "t0"

    # The first of two CO2s, by mouse, then the first type's key: that offset is saved.
    label_word(page, token_index(REPEATED, "CO2", 0))
    spans = project.labels.spans("t0")
    assert [(s.start, s.end, s.label, s.status) for s in spans] == [(22, 25, "MAT", "confirmed")]
    page.locator(f"{B.ANNOTATOR} mark[data-status='accepted'][data-label='MAT']").wait_for()
    B.screenshot(page, ARTIFACTS / "annotator_1_repeated_word.png")

    # Drag over three words ("at 1 bar" → the value is "1 bar"; take "its CO2 uptake").
    its = token_index(REPEATED, "its")
    B.drag(page, B.annotator_token(page, its), B.annotator_token(page, its + 2))
    assert B.annotator_attr(page, "data-selection") == f"{its}-{its + 2}"
    page.keyboard.press("2")
    B.wait_annotator_settled(page)
    got = {(s.text, s.label) for s in project.labels.spans("t0")}
    assert got == {("CO2", "MAT"), ("its CO2 uptake", "PRO")}

    # A label over an accepted span is refused in place, and the selection is gone:
    # the next click starts a new selection instead of growing the refused one.
    framework = token_index(REPEATED, "framework")
    B.annotator_token(page, framework).click()
    page.keyboard.down("Shift")
    B.annotator_token(page, token_index(REPEATED, "CO2", 0)).click()
    page.keyboard.up("Shift")
    page.keyboard.press("1")
    notice = page.locator(f"{B.ANNOTATOR} [data-testid='allabel-notice']")
    assert "overlaps the accepted span “CO2” (MAT)" in notice.inner_text()
    assert B.annotator_attr(page, "data-selection") == ""
    B.screenshot(page, ARTIFACTS / "annotator_2_refused.png")
    label_word(page, token_index(REPEATED, "K"), "3")
    assert {(s.text, s.label) for s in project.labels.spans("t0")} == {
        ("CO2", "MAT"), ("its CO2 uptake", "PRO"), ("K", "VAL")}

    # Backspace on a word of a span removes that span.
    B.annotator_token(page, token_index(REPEATED, "K")).click()
    page.keyboard.press("Backspace")
    B.wait_annotator_settled(page)
    assert ("K", "VAL") not in {(s.text, s.label) for s in project.labels.spans("t0")}

    # N confirms and opens the next sentence; the history says who and how long.
    page.keyboard.press("n")
    B.wait_annotator_settled(page)
    assert project.labels.state("t0") == "confirmed"
    assert B.annotator_attr(page, "data-sid") == "t1"
    confirm = next(h for h in project.labels.history() if h["action"] == "confirm")
    assert confirm["annotator"] == "alice" and confirm["lead_time"] > 0

    # The XSS probe renders as text inside the component; nothing runs.
    open_sentence(page, "t3")
    text = page.locator(f"{B.ANNOTATOR} [data-testid='allabel-text']").inner_text()
    assert "<img src=x onerror=alert(1)>" in text and "<script>alert(2)</script>" in text
    assert B.annotator_eval(page, "(root) => root.querySelectorAll('img, script').length") == 0
    assert page.locator("img[src='x']").count() == 0
    B.screenshot(page, ARTIFACTS / "annotator_3_xss.png")
    assert dialogs == []


def test_two_sessions_do_not_trample_each_other(browser, served):
    server, project = served
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    a, b = ctx_a.new_page(), ctx_b.new_page()
    try:
        B.open_label(a, server, project, annotator="alice")
        label_word(a, token_index(REPEATED, "CO2", 0))
        B.press_and_wait_next(a, "n")
        assert project.labels.state("t0") == "confirmed" and B.annotator_attr(a, "data-sid") == "t1"

        # Bob opens the same project and lands where Alice is (t1); both see it at one revision.
        B.open_label(b, server, project, annotator="bob")
        assert B.annotator_attr(b, "data-sid") == "t1"
        s1 = SENTENCES[1]
        label_word(b, token_index(s1, "films"), "1")
        assert [(s.text, s.label) for s in project.labels.spans("t1")] == [("films", "MAT")]

        # Alice's tab still shows t1 as it was: her action is refused and her view reloaded.
        label_word(a, token_index(s1, "lithium"), "1")
        notice = a.locator(f"{B.ANNOTATOR} [data-testid='allabel-notice']").inner_text()
        assert "this sentence changed in another tab — reloaded" in notice
        assert [(s.text, s.label) for s in project.labels.spans("t1")] == [("films", "MAT")]
        a.locator(f"{B.ANNOTATOR} mark[data-label='MAT']", has_text="films").wait_for()
        B.screenshot(a, ARTIFACTS / "annotator_4_stale.png")

        # Bob's undo undoes Bob's label only; a second undo finds nothing of his, and
        # Alice's confirmed sentence is untouched.
        B.press_and_wait_next(b, "u")
        assert project.labels.spans("t1") == []
        B.press_and_wait_next(b, "u")
        assert "Nothing of yours to undo" in b.locator(f"{B.ANNOTATOR} [data-testid='allabel-notice']").inner_text()
        assert project.labels.state("t0") == "confirmed"
        assert [(s.text, s.label) for s in project.labels.spans("t0")] == [("CO2", "MAT")]
        B.screenshot(b, ARTIFACTS / "annotator_5_undo.png")
    finally:
        ctx_a.close()
        ctx_b.close()
