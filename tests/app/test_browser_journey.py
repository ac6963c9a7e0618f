"""A newcomer's whole journey with their own corpus, in a real browser
(Debian chromium + playwright).

Upload a .txt of 200 sentences (tests/app/journey/sentences.txt, written
for this test), define three entity types in the editor, lay out the map and
run the three stages, label five sentences with the keyboard, reload the page
(the same project comes back), predict the rest, download the entity table
and check every row of it against the project store. Screenshots of each step
go to ``tests/artifacts/journey/`` (git-ignored).

Slow on purpose (embedding, UMAP, the kNN predictor over 195 sentences):
marked ``browser``, skipped with the reason when chromium or playwright is
missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import browser_helpers as B

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "journey"
SENTENCES = ROOT / "tests" / "app" / "journey" / "sentences.txt"
TYPES = [
    ("MAT", "a material: a compound, element, alloy, polymer or composite"),
    ("PRO", "a measured property of a material, such as hardness or band gap"),
    ("MTH", "a synthesis, processing or characterisation method"),
]


def the_project(root: Path):
    from allabel_core.project import Project, list_projects

    (info,) = list_projects(root / "projects")
    return Project.open(info.path)


def add_type(page, name: str, definition: str) -> None:
    page.locator(".st-key-schema_add_name input").fill(name)
    page.locator(".st-key-schema_add_definition input").fill(definition)
    B.click_key(page, "schema_add")
    page.get_by_text(f"Added {name}.").first.wait_for()


def settle(page) -> None:
    if page.locator('[data-testid="allabel-annotator"]').count():
        B.wait_annotator_settled(page)
    else:
        B.wait_idle(page)


def label_first_word(page, project, key: str) -> str:
    """Select the open sentence's first word with the mouse and press the
    type's key in the span annotator; returns the sentence id."""
    annotator = page.locator('[data-testid="allabel-annotator"]')
    annotator.first.wait_for()  # mounted after the page's rerun, not at once
    sid = annotator.first.get_attribute("data-sid")
    annotator.locator('[data-token-index="0"]').first.click()
    page.keyboard.press(key)
    B.wait_annotator_settled(page)
    annotator.locator("mark[data-status=accepted]").first.wait_for()
    return sid


def test_own_corpus_start_to_finish(browser, tmp_path):
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and len(set(lines)) == 200
    env = B.server_env(tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "streamlit.log"
    log.write_bytes(b"")
    server = B.StreamlitServer(ROOT, env, log=log).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(server.url)
        B.wait_idle(page)

        # Home: upload the .txt and create a project from it; it has no types yet, so the editor shows.
        page.locator(".st-key-home_upload input[type=file]").set_input_files(str(SENTENCES))
        B.wait_idle(page)
        page.locator(".st-key-home_upload_name input").fill("My abstracts")
        B.click_key(page, "home_create")
        page.get_by_text("Confirmed / budget").wait_for()
        page.locator(".st-key-schema_add_name input").wait_for()
        B.screenshot(page, ARTIFACTS / "1_created_no_types.png")
        for name, definition in TYPES:
            add_type(page, name, definition)
        project = the_project(tmp_path)
        assert len(project) == 200 and project.pool().texts == lines
        assert project.schema.names == [t[0] for t in TYPES]
        assert [t.description for t in project.schema.types] == [t[1] for t in TYPES]
        B.screenshot(page, ARTIFACTS / "2_types_defined.png")
        B.click_key(page, "home_types_done")  # "Done: on to the Map"

        # Map: the first layout names what it is doing, then the three stages.
        B.goto_page(page, "Map")
        page.get_by_text(re.compile(r"Laying out the map: ")).first.wait_for(timeout=60_000)
        B.screenshot(page, ARTIFACTS / "3_map_progress.png", full=False)
        B.wait_for_map(page)
        B.click_key(page, "map_run_all")
        page.get_by_text("What the last run added, and why").wait_for(timeout=B.SLOW_MS)
        B.wait_for_map(page)
        picked = project.selections.table()
        assert len(picked) == project.settings["budget"] == 20
        assert set(picked["stage"]) == {"diversity", "similarity", "uncertainty"}
        B.screenshot(page, ARTIFACTS / "3_map_stages.png")

        # Label: five sentences, each by keyboard: a word, then 1-3 for its type, then N.
        B.goto_page(page, "Label")
        page.wait_for_selector(".st-key-label_types_done button, "
                               "[data-testid='allabel-annotator'], .st-key-label_annotator_name")
        if page.locator(".st-key-label_types_done button").count():
            B.click_key(page, "label_types_done")
        if page.locator(".st-key-label_annotator_name input").count():  # the annotator asks for a name once
            page.locator(".st-key-label_annotator_name input").fill("newcomer")
            B.click_key(page, "label_annotator_start")
        labelled = []
        for n in range(5):
            sid = label_first_word(page, project, str(n % 3 + 1))
            if n == 0:
                B.screenshot(page, ARTIFACTS / "4_label_first.png")
            word_text = project.sentence(sid).tokens[0].text
            page.keyboard.press("n")
            settle(page)
            assert project.labels.state(sid) == "confirmed"
            spans = project.labels.spans(sid, ("confirmed",))
            assert [(s.text, s.label) for s in spans] == [(word_text, TYPES[n % 3][0])]
            labelled.append(sid)
        assert len(set(labelled)) == 5 and project.progress()["confirmed"] == 5

        # Reload (F5): the same project, not the sample and not an empty Home.
        assert f"project={project.path.stem}" in page.url
        page.reload()
        B.wait_idle(page)
        B.goto_page(page, "Home")
        page.get_by_text("My abstracts").first.wait_for()
        page.locator("[data-testid='stMetricValue']", has_text="5 / 20").first.wait_for()
        B.screenshot(page, ARTIFACTS / "5_after_reload.png")

        # Entities: predict the rest, with progress, then the table.
        B.goto_page(page, "Entities")
        B.click_key(page, "entities_predict")
        page.get_by_text(re.compile(r"Predicting the rest: ")).first.wait_for(timeout=60_000)
        B.screenshot(page, ARTIFACTS / "6_predicting.png", full=False)
        page.get_by_text(re.compile(r"predicted 195 of 195 sentences not confirmed by a person")).wait_for(
            timeout=B.SLOW_MS)
        B.wait_idle(page)
        B.screenshot(page, ARTIFACTS / "6_predicted.png")
        stored = project.records.rest_predictions()
        assert len(stored) == 195 and not any(r.prediction.error for r in stored.values())
        assert set(stored) == set(project.pool_ids()) - set(labelled)

        # The entity table as downloaded, row by row against the store.
        with page.expect_download() as info:
            page.locator(".st-key-entities_download_table button").click()
        path = tmp_path / "entities.csv"
        info.value.save_as(path)
        table = pd.read_csv(path, keep_default_na=False, dtype={"sentence_id": str, "source": str})
        assert list(table.columns) == ["sentence_id", "sentence", "start", "end", "text", "label", "source", "score"]
        texts = dict(zip(project.pool_ids(), project.pool().texts))
        for r in table.itertuples():
            assert r.sentence == texts[r.sentence_id] and r.sentence[r.start:r.end] == r.text
        human = table[table["source"] == "human"]
        want = sorted((sid, sp.start, sp.end, sp.label) for sid in labelled for sp in project.labels.spans(sid, ("confirmed",)))
        assert sorted(zip(human["sentence_id"], human["start"], human["end"], human["label"])) == want
        model = table[table["source"] != "human"]
        want = sorted((sid, sp.start, sp.end, sp.label) for sid, r in stored.items() for sp in r.prediction.spans)
        assert sorted(zip(model["sentence_id"], model["start"], model["end"], model["label"])) == want
        assert set(model["source"]) <= {"offline kNN predictor"}
        scores = pd.to_numeric(model["score"])
        assert scores.between(0, 1).all()
        B.screenshot(page, ARTIFACTS / "7_entities_table.png")
        project.close()
    except BaseException:
        B.screenshot(page, ARTIFACTS / "failed.png")
        raise
    finally:
        server.kill()
