"""Home, Label and Settings pages driven through their widgets with AppTest.

Every check of what was saved reads a freshly opened Project, never the
page's cached one, so "saved" means "on disk".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from allabel_core.data.corpus import Corpus
from allabel_core.formats import read_corpus_bytes
from allabel_core.project import Actor, Project, create_project
from allabel_core.data.sentence import Sentence, Span

ROOT = Path(__file__).resolve().parents[2]
XSS = '<img src=x onerror=alert(1)> and <script>alert("x")</script> near LiFePO4'
TEXTS = {
    # Token texts are unique within each sentence: AppTest maps pills values through their labels.
    "s1": "LiFePO4 cathodes deliver high capacity.",
    "s2": "We coated LiFePO4 with carbon.",
    "s3": "Graphene improves conductivity.",
    "s4": "Nothing here.",
    "x1": XSS,
}
SCHEMA = {"labels": [{"name": "MAT", "description": "a material", "color": "#E69F00"},
                     {"name": "PRO", "description": "a property", "color": "#56B4E9"}]}


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return tmp_path


@pytest.fixture
def small(dirs) -> Path:
    pool = Corpus([Sentence.from_text(i, t) for i, t in TEXTS.items()])
    p = create_project("Small", pool, schema=SCHEMA, projects_dir=dirs / "projects")
    p.selections.enqueue(["s1", "s2", "s3", "s4"])
    p.close()
    return p.path


def page(path: Path | None, script: str = "pages/2_Label.py", annotator: str | None = "tester") -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=60)
    if path is not None:
        at.session_state["project_path"] = str(path)
    if annotator is not None:
        at.session_state["annotator"] = annotator
    return at.run()


def stored(path: Path) -> Project:
    return Project.open(path)


def props(at: AppTest) -> dict:
    """What the Label page handed to the annotator component."""
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)


def event(at: AppTest, kind: str, **fields) -> dict:
    """An annotator event as the browser builds it from the props on screen."""
    shown = props(at)
    return {"id": shown["ack"] + 1, "sid": shown["sid"], "rev": shown["rev"], "kind": kind, **fields}


def token(at: AppTest, word: str) -> int:
    return next(t["i"] for t in props(at)["tokens"] if t["text"] == word)


def test_home_creates_and_reopens_the_sample(dirs):
    at = page(None, "app.py")
    assert not at.exception
    at.button(key="home_sample").click().run()
    assert not at.exception
    path = Path(at.session_state["project_path"])
    assert path.exists() and path.parent == dirs / "projects"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Confirmed / budget"].startswith("0 / ") and int(metrics["Pool"]) > 0
    assert any("offline kNN predictor" in m.value for m in at.markdown)
    # a new session opens it from the recent list
    at2 = page(None, "app.py")
    assert "Sample corpus" in at2.selectbox(key="home_recent").format_func(0)
    at2.button(key="home_open").click().run()
    assert at2.session_state["project_path"] == str(path)


def test_home_upload_bad_file_creates_nothing_and_good_file_creates(dirs):
    at = page(None, "app.py")
    bad = b'{"text": "LiCoO2 is layered.", "spans": [{"start": 0, "end": 6, "label": "MAT"}]}\n{"text": "oops"\n'
    at.file_uploader(key="home_upload").upload("pool.jsonl", bad)
    at.run()
    at.button(key="home_create").click().run()
    errors = [e.value for e in at.error]
    assert errors and "pool.jsonl" in errors[0] and "line 2" in errors[0]
    assert list((dirs / "projects").glob("*")) == []
    assert at.session_state["project_path"] is None

    good = b'{"text": "LiCoO2 is layered.", "spans": [{"start": 0, "end": 6, "label": "MAT"}]}\n'
    at.file_uploader(key="home_upload").set_value(("pool.jsonl", good, "application/json"))
    at.text_input(key="home_upload_name").set_value("My upload")
    at.run()
    at.button(key="home_create").click().run()
    assert not at.error
    p = stored(Path(at.session_state["project_path"]))
    assert p.name == "My upload" and p.gold()[0].spans[0].text == "LiCoO2" and p.schema.names == ["MAT"]


def test_label_page_asks_the_annotator_once_and_keeps_the_name_in_the_url(small):
    at = page(small, annotator=None)
    assert not at.exception and not at.get("bidi_component")
    at.button(key="label_annotator_start").click().run()  # nothing typed
    assert any("type your name" in e.value for e in at.error)
    at.text_input(key="label_annotator_name").set_value("  Ada L. ")
    at.button(key="label_annotator_start").click().run()
    assert at.session_state["annotator"] == "Ada L." and at.query_params["annotator"] == "Ada L."
    shown = props(at)
    assert shown["sid"] == "s1" and shown["text"] == TEXTS["s1"] and "Ada L." in shown["caption"]
    assert [(t["name"], t["key"], t["description"]) for t in shown["types"]] == [
        ("MAT", "1", "a material"), ("PRO", "2", "a property")]
    # A new session with the name in its URL is not asked again.
    at2 = AppTest.from_file(str(ROOT / "pages/2_Label.py"), default_timeout=60)
    at2.session_state["project_path"] = str(small)
    at2.query_params["annotator"] = "Ada L."
    at2.run()
    assert at2.session_state["annotator"] == "Ada L." and props(at2)["sid"] == "s1"


def test_annotator_events_are_saved_at_once_and_navigate(small):
    """The page's own handler, fed the events the browser sends (the browser test drives the real thing)."""
    from allabel_core.project.annotate import apply_event

    p = stored(small)
    at = page(small)
    me = Actor("tester", "t")
    shown = props(at)
    i = token(at, "LiFePO4")
    out = apply_event(p, event(at, "label", first=i, last=i, label="MAT"), me)
    assert out.notice is None and stored(small).labels.spans("s1") == [Span(0, 7, "MAT", "LiFePO4", "confirmed")]
    at.run()
    assert props(at)["rev"] > shown["rev"] and props(at)["spans"][0]["status"] == "accepted"
    out = apply_event(p, event(at, "label", first=token(at, "high"), last=token(at, "capacity"), label="PRO"), me)
    assert [s.text for s in stored(small).labels.spans("s1")] == ["LiFePO4", "high capacity"]

    at.run()
    out = apply_event(p, event(at, "confirm"), me, lead_time=4.5)
    assert out.goto == "s2" and out.confirmed == "s1" and "Confirmed s1 with 2 spans" in out.notice["text"]
    assert stored(small).labels.state("s1") == "confirmed"
    assert stored(small).labels.history(1)[0]["lead_time"] == 4.5
    p.selections.set_current("s2")
    at = page(small)
    assert props(at)["sid"] == "s2"
    assert apply_event(p, event(at, "previous"), me).goto == "s1"
    out = apply_event(p, event(at, "undo"), me)  # undoes the confirm of s1 and goes there
    assert stored(small).labels.state("s1") is None and out.goto == "s1"
    p.selections.set_current("s1")
    at = page(small)
    apply_event(p, event(at, "undo"), me)  # then the PRO span
    assert [s.text for s in stored(small).labels.spans("s1")] == ["LiFePO4"]
    at.run()
    out = apply_event(p, event(at, "skip"), me)
    assert stored(small).labels.state("s1") == "skipped" and out.goto == "s2"


def test_refusals_are_said_in_place_and_change_nothing(small):
    from allabel_core.project.annotate import apply_event

    p = stored(small)
    at = page(small)
    me = Actor("tester", "t")
    apply_event(p, event(at, "label", first=0, last=1, label="MAT"), me)
    at.run()
    out = apply_event(p, event(at, "label", first=1, last=2, label="PRO"), me)
    assert out.notice["kind"] == "error" and "overlaps the accepted span" in out.notice["text"]
    stale = event(at, "label", first=3, last=3, label="PRO")
    at_ = TEXTS["s1"].index("capacity")
    p.labels.add_span("s1", at_, at_ + 8, "PRO", actor=Actor("someone else", "x"))  # another tab, meanwhile
    out = apply_event(p, stale, me)
    assert out.notice == {"kind": "error", "text": "this sentence changed in another tab — reloaded", "event": stale["id"]}
    assert [s.text for s in stored(small).labels.spans("s1")] == ["LiFePO4 cathodes", "capacity"]
    # The notice reaches the annotator with the new revision, in the next props.
    at.session_state["label_notice"] = out.notice
    at.run()
    assert props(at)["notice"]["text"].startswith("this sentence changed") and props(at)["rev"] == p.labels.revision("s1")
    bad = apply_event(p, {**event(at, "label", first=0, last=0, label="MAT"), "sid": "nope"}, me)
    assert "names no sentence" in bad.notice["text"]
    assert not at.exception


def test_apply_to_identical_and_accept_a_suggestion(small):
    from allabel_core.project.annotate import apply_event

    p = stored(small)
    at = page(small)
    me = Actor("tester", "t")
    apply_event(p, event(at, "label", first=0, last=0, label="MAT"), me)
    at.run()
    at.button(key="label_identical").click().run()
    assert any("2 more mention(s)" in s.value for s in at.success)  # s2 and x1
    q = stored(small)
    assert q.labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "suggested")]
    assert q.labels.spans("x1")[0].status == "suggested"
    assert q.labels.history(1)[0]["annotator"] == "tester"
    p.selections.set_current("s2")
    at = page(small)
    assert [(s["status"], s["label"]) for s in props(at)["spans"]] == [("suggested", "MAT")]
    i = token(at, "LiFePO4")
    apply_event(p, event(at, "label", first=i, last=i, label="MAT"), me)  # its own type: accepted as it is
    assert stored(small).labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "confirmed")]


def test_suggest_uses_the_offline_predictor(small):
    from allabel_core.vectors.embed import Embedder
    from allabel_core.predictors.registry import predictor_from_settings
    from allabel_core.project.predict import suggest_for
    from allabel_core.project.annotate import apply_event

    p = stored(small)
    p.labels.add_span("s1", 0, 7, "MAT")
    p.labels.confirm("s1")
    p.selections.set_current("s2")
    at = page(small)
    assert props(at)["sid"] == "s2"
    embedder = Embedder()

    def suggest(sid: str) -> str:
        pred = suggest_for(p, sid, predictor_from_settings(p.settings, embedder, p.schema), embedder)
        return "success", f"{len(pred.spans)} suggestion(s)"

    out = apply_event(p, event(at, "suggest"), Actor("tester", "t"), suggest=suggest)
    assert out.notice["kind"] == "success" and "suggestion(s)" in out.notice["text"]
    q = stored(small)
    assert all(s.status == "suggested" for s in q.labels.spans("s2"))
    assert q.records.prediction("s2") is not None and q.records.prediction("s2").demonstrations == ("s1",)
    assert q.annotated().ids == ["s1"]  # a suggestion is not an annotation


def test_xss_probe_is_handed_over_as_text(small):
    p = stored(small)
    p.selections.enqueue(["x1"])
    p.labels.add_span("x1", 0, 28, "MAT")  # "<img src=x onerror=alert(1)>"
    p.selections.set_current("x1")
    at = page(small)
    shown = props(at)
    # The annotator puts it in with textContent (the browser test checks nothing runs).
    assert shown["text"] == XSS and shown["spans"][0]["text"] == "<img src=x onerror=alert(1)>"
    raw = "".join(m.value for m in at.markdown)
    assert "<img" not in raw and "<script" not in raw


def test_empty_queue_and_no_project(dirs):
    at = page(None)
    assert any("No project is open" in i.value for i in at.info)
    p = create_project("Empty", Corpus([Sentence.from_text("a", "Nothing.")]), schema=SCHEMA,
                       projects_dir=dirs / "projects")
    at = page(p.path)
    assert any("queue is empty" in i.value for i in at.info)


@pytest.fixture
def media(monkeypatch):
    """Keep AppTest's in-memory media store so download bytes can be read."""

    class Kept(MemoryMediaFileStorage):
        last: MemoryMediaFileStorage | None = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            Kept.last = self

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Kept)
    return Kept


def test_settings_save_key_and_export(small, media):
    p = stored(small)
    p.labels.add_span("s1", 0, 7, "MAT")
    p.labels.add_span("s1", 25, 38, "PRO")
    p.labels.confirm("s1")
    p.labels.confirm("s4")
    p.labels.suggest("s2", [(10, 17, "MAT")])  # never exported
    at = page(small, "pages/5_Settings.py")
    assert not at.exception
    tag = small.stem
    at.radio(key=f"settings_predictor_{tag}").set_value("openai")
    at.text_input(key=f"settings_model_{tag}").set_value("qwen2.5")
    at.text_input(key=f"settings_base_url_{tag}").set_value("http://127.0.0.1:8080/v1")
    at.number_input(key=f"settings_k_{tag}").set_value(7)
    assert at.radio(key=f"settings_retriever_{tag}").value == "hybrid"
    at.radio(key=f"settings_retriever_{tag}").set_value("bm25")
    at.number_input(key=f"settings_rrf_k_{tag}").set_value(30.0)
    at.button(key=f"settings_save_{tag}").click().run()
    assert not at.error
    s = stored(small).settings
    assert (s["predictor"], s["model"], s["base_url"], s["k"]) == ("openai", "qwen2.5", "http://127.0.0.1:8080/v1", 7)
    assert (s["retriever"], s["rrf_k"]) == ("bm25", 30.0)
    assert "LLM qwen2.5 at http://127.0.0.1:8080/v1" in at.caption[0].value

    secret = "sk-typed-in-the-session-0123456789"
    at.text_input(key="settings_api_key").set_value(secret).run()
    assert at.session_state["api_key"] == secret
    at.button(key=f"settings_save_{tag}").click().run()
    blob = b"".join(f.read_bytes() for f in small.parent.glob(f"{small.name}*"))
    assert secret.encode() not in blob

    buttons = {b.proto.id.split("-")[-1]: b for b in at.get("download_button")
               if b.proto.id.split("-")[-1].startswith("settings_export_")}
    assert sorted(buttons) == sorted(f"settings_export_{f}" for f in ("conll", "jsonl", "doccano", "labelstudio", "spacy"))
    for fmt in ("conll", "jsonl", "doccano", "labelstudio", "spacy"):
        url = buttons[f"settings_export_{fmt}"].proto.url
        data = media.last.get_file(url.rsplit("/", 1)[-1]).content
        ext = {"conll": ".conll", "labelstudio": ".json"}.get(fmt, ".jsonl")
        back = read_corpus_bytes(data, f"export{ext}", fmt)
        # CoNLL is written as doccano and conlleval take it: token and tag lines, no id comments
        assert [s.id for s in back] == (["line-1", "line-8"] if fmt == "conll" else ["s1", "s4"]), fmt
        assert [(sp.label, sp.text) for sp in back[0].spans] == [("MAT", "LiFePO4"), ("PRO", "high capacity")], fmt
        assert back[1].spans == ()
    assert not at.warning
    spacy = [json.loads(line) for line in media.last.get_file(
        buttons["settings_export_spacy"].proto.url.rsplit("/", 1)[-1]).content.decode().splitlines()]
    assert "LiFePO4" not in json.dumps([r for r in spacy if r["id"] == "s2"])


def test_make_run_opens_the_sample_project_once_per_session(dirs, monkeypatch):
    monkeypatch.setenv("ALLABEL_OPEN_SAMPLE", "1")
    at = page(None, "app.py")
    assert not at.exception
    assert at.session_state["project_path"].endswith("sample.allabel")
    assert any("Sample corpus" in h.value for h in at.subheader)
    assert at.query_params["project"] == "sample"
    # Once the person leaves the sample (and the URL no longer names it), the session does not force it back.
    at.session_state["project_path"] = None
    del at.query_params["project"]
    at.run()
    assert at.session_state["project_path"] is None


def test_check_against_gold_after_confirming(dirs):
    from allabel_core.project.annotate import apply_event

    text = TEXTS["s1"]  # "LiFePO4 cathodes deliver high capacity."
    gold = [Span(0, 7, "MAT", "LiFePO4"), Span(30, 38, "PRO", "capacity")]
    pool = Corpus([Sentence.from_text("s1", text, gold), Sentence.from_text("s2", TEXTS["s2"])])
    p = create_project("Gold", pool, schema=SCHEMA, projects_dir=dirs / "projects")
    p.selections.enqueue(["s1", "s2"])
    at = page(p.path, annotator="ada")
    assert not props(at)["spans"]  # gold is never shown as the person's spans
    at.toggle(key="label_check_gold").set_value(True).run()
    me = Actor("ada", "t")
    apply_event(p, event(at, "label", first=token(at, "LiFePO4"), last=token(at, "LiFePO4"), label="PRO"), me)
    at.run()
    apply_event(p, event(at, "label", first=token(at, "high"), last=token(at, "capacity"), label="PRO"), me)
    at.run()
    out = apply_event(p, event(at, "confirm"), me)
    at.session_state["label_checked"] = out.confirmed  # what the page's callback does
    at.session_state["current_id"] = out.goto
    at.run()
    checked = props(at)["gold"]
    assert props(at)["sid"] == "s2" and "s1" in checked["title"]
    assert [(m["text"], m["label"], m["gold_label"]) for m in checked["mistyped"]] == [("LiFePO4", "PRO", "MAT")]
    assert [(m["text"], m["label"]) for m in checked["added"]] == [("high capacity", "PRO")]
    assert [(m["text"], m["label"]) for m in checked["missed"]] == [("capacity", "PRO")]
    assert "ada, over 1 checked sentence(s): precision 0.00, recall 0.00" in checked["summary"]
    table = at.dataframe[0].value
    assert list(table["annotator"]) == ["ada"] and list(table["sentences"]) == [1]


def test_label_page_on_a_few_thousand_sentences_shows_the_queue_and_its_predictions(dirs):
    """The page reads one sentence's rows, not the pool's: still the queue's order, the stored
    prediction of the sentence open, the counts, and "least certain first" over every prediction."""
    from allabel_core.predictors.base import Prediction
    from allabel_core.project.annotate import apply_event

    n = 3000
    pool = Corpus([Sentence.from_text(f"s{i}", f"Sample {i} of LiFePO4 was annealed.") for i in range(n)])
    p = create_project("Big", pool, schema=SCHEMA, projects_dir=dirs / "projects")
    queued = [f"s{i}" for i in range(n - 1, 0, -7)][:300]  # not in pool order
    p.selections.record(queued, "diversity")
    prov = {"provenance": {"fingerprint": "f", "source": "kNN"}}
    p.records.save_predictions(
        [Prediction(f"s{i}", (Span(0, 6, "MAT", "Sample", "suggested"),), (i % 97) / 100, "knn-margin", (), (), None,
                    prov) for i in range(n)], "knn")
    me = Actor("tester", "t")
    p.labels.confirm(queued[0], actor=me)
    at = page(p.path)
    shown = props(at)
    assert shown["sid"] == queued[1] and shown["next"]["sid"] == queued[2]
    assert any(f"1 of {n // 10} confirmed · 299 in the queue" in str(b.proto) for b in at.get("progress"))
    assert any(c.value.startswith("Predicted by kNN") and "1 span(s)" in c.value for c in at.caption)

    out = apply_event(p, event(at, "confirm"), me)
    assert out.goto == queued[2] and stored(p.path).labels.state(queued[1]) == "confirmed"
    at.session_state["current_id"] = out.goto
    at.run()
    assert props(at)["sid"] == queued[2] and props(at)["previous"]["sid"] == queued[1]

    # Least certain first: uncertainty (i % 97) / 100 is highest at i = 96, 193, ...: s96 first.
    at.radio(key="label_order").set_value("uncertainty").run()
    assert props(at)["sid"] == "s96" and props(at)["next"]["sid"] == "s193"
    p.labels.confirm("s96", actor=me)
    p.records.save_predictions([Prediction("s5", (), 0.99, "knn-margin", (), (), None, prov)], "knn")
    at.radio(key="label_order").set_value("stage").run()
    at.radio(key="label_order").set_value("uncertainty").run()  # the new prediction is seen: s5 least certain
    assert props(at)["sid"] == "s5" and props(at)["next"]["sid"] == "s193"
    p.close()
