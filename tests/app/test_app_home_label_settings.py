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
from allabel_core.project import Project, create_project
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


def page(path: Path | None, script: str = "pages/2_Label.py") -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=60)
    if path is not None:
        at.session_state["project_path"] = str(path)
    return at.run()


def stored(path: Path) -> Project:
    return Project.open(path)


def words(at: AppTest, indices: list[int]) -> None:
    sid = at.session_state["current_id"]
    at.button_group(key=f"label_words_{sid}").set_value(indices)


def sentence_markup(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "allabel-sentence" in m.value)


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


def test_labeling_through_widgets_is_saved_at_once(small):
    at = page(small)
    assert not at.exception
    assert at.session_state["current_id"] == "s1"
    assert at.button(key="label_type_MAT").proto.shortcut == "1"
    assert at.button(key="label_type_PRO").proto.shortcut == "2"
    shortcuts = {k: at.button(key=f"label_{k}").proto.shortcut for k in ("confirm", "skip", "previous", "undo")}
    assert shortcuts == {"confirm": "n", "skip": "s", "previous": "p", "undo": "u"}  # stored lower-case
    words(at, [0])  # "LiFePO4"
    at.button(key="label_type_MAT").click().run()
    assert stored(small).labels.spans("s1") == [Span(0, 7, "MAT", "LiFePO4", "confirmed")]
    words(at, [3, 4])  # "high capacity"
    at.button(key="label_type_PRO").click().run()
    assert [s.text for s in stored(small).labels.spans("s1")] == ["LiFePO4", "high capacity"]
    assert "allabel-confirmed" in sentence_markup(at)

    at.button(key="label_confirm").click().run()
    p = stored(small)
    assert p.labels.state("s1") == "confirmed" and p.selections.current() == "s2"
    assert at.session_state["current_id"] == "s2"

    at.button(key="label_previous").click().run()
    assert at.session_state["current_id"] == "s1"

    at.button(key="label_undo").click().run()  # undoes the confirm
    assert stored(small).labels.state("s1") is None and at.session_state["current_id"] == "s1"
    at.button(key="label_undo").click().run()  # then the PRO span
    assert [s.text for s in stored(small).labels.spans("s1")] == ["LiFePO4"]

    at.button(key="label_skip").click().run()
    assert stored(small).labels.state("s1") == "skipped" and at.session_state["current_id"] == "s2"


def test_type_without_words_and_overlap_show_messages(small):
    at = page(small)
    at.button(key="label_type_MAT").click().run()
    assert any("Select one or more words" in w.value for w in at.warning)
    words(at, [0, 1])
    at.button(key="label_type_MAT").click().run()
    words(at, [1])
    at.button(key="label_type_PRO").click().run()
    assert any("overlaps" in e.value for e in at.error)
    assert not at.exception


def test_apply_to_identical_and_accept(small):
    at = page(small)
    words(at, [0])
    at.button(key="label_type_MAT").click().run()
    at.button(key="label_identical_s1_0_7").click().run()
    assert any("2 more mention(s)" in s.value for s in at.success)  # s2 and x1
    p = stored(small)
    assert p.labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "suggested")]
    assert p.labels.spans("x1")[0].status == "suggested"
    at.button(key="label_confirm").click().run()
    assert at.session_state["current_id"] == "s2"
    markup = sentence_markup(at)
    assert "allabel-suggested" in markup and "dashed" in markup
    at.button(key="label_accept_s2_10_17").click().run()
    assert stored(small).labels.spans("s2") == [Span(10, 17, "MAT", "LiFePO4", "confirmed")]


def test_suggest_uses_the_offline_predictor(small):
    p = stored(small)
    p.labels.add_span("s1", 0, 7, "MAT")
    p.labels.confirm("s1")
    p.selections.set_current("s2")
    at = page(small)
    assert at.session_state["current_id"] == "s2"
    at.button(key="label_suggest").click().run(timeout=120)
    assert not at.exception and not at.error
    assert any("offline kNN predictor" in s.value for s in at.success)
    q = stored(small)
    assert all(s.status == "suggested" for s in q.labels.spans("s2"))
    assert q.records.prediction("s2") is not None and q.records.prediction("s2").demonstrations == ("s1",)
    assert q.annotated().ids == ["s1"]  # a suggestion is not an annotation


def test_xss_probe_renders_as_text(small):
    p = stored(small)
    p.selections.enqueue(["x1"])
    p.labels.add_span("x1", 0, 28, "MAT")  # "<img src=x onerror=alert(1)>"
    p.selections.set_current("x1")
    at = page(small)
    markup = sentence_markup(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in markup
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
