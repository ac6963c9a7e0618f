"""Settings page: choosing a /v1/embeddings server, and re-embedding a
project whose vectors another embedder made (AppTest, fake server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from allabel_core.data.corpus import Corpus
from allabel_core.data.sentence import Sentence
from allabel_core.project import Project, create_project
from allabel_core.project import tasks
from allabel_core.vectors.remote import RemoteEmbedder

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {"s1": "Cu2O films were grown.", "s2": "The WC coating is hard.", "s3": "MoS2 flakes exfoliate."}


@pytest.fixture
def small(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = create_project("Emb", Corpus([Sentence.from_text(i, t) for i, t in TEXTS.items()]), schema=["MAT"],
                       projects_dir=tmp_path / "projects")
    p.close()
    return p.path


def test_choose_remote_embedder_and_reembed(small, fault_server):
    with Project.open(small) as p0:
        tasks.pool_vectors(p0, RemoteEmbedder(fault_server.url, "model-a"))
    fault_server.embed_model = "model-b"
    at = AppTest.from_file(str(ROOT / "pages/5_Settings.py"), default_timeout=60)
    at.session_state["project_path"] = str(small)
    at.run()
    tag = small.stem
    at.radio(key=f"settings_embedder_{tag}").set_value("openai")
    at.text_input(key=f"settings_embed_url_{tag}").set_value(fault_server.url)
    at.text_input(key=f"settings_embed_model_{tag}").set_value("model-b")
    at.number_input(key=f"settings_embed_batch_{tag}").set_value(2)
    at.button(key=f"settings_embed_save_{tag}").click().run()
    assert not at.exception and not at.error
    with Project.open(small) as p:
        s = p.settings
        assert (s["embedder"], s["embed_base_url"], s["embed_model"], s["embed_batch_size"]) == (
            "openai", fault_server.url, "model-b", 2)
    assert any("model-b at" in c.value and "openai:model-a:16" in c.value for c in at.caption)
    at.button(key=f"settings_reembed_{tag}").click().run()
    assert not at.exception and not at.error
    assert any("openai:model-b:16" in m.value for m in at.success)
    with Project.open(small) as p:
        assert p.records.embedder() == "openai:model-b:16"
