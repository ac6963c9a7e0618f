"""A project records which embedder made its vectors and refuses to mix two."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import DEMOS, LABELS, QUERIES, make_sentence

from allabel_core.data.corpus import Corpus
from allabel_core.errors import EmbedderMismatchError
from allabel_core.project import Project
from allabel_core.project import tasks
from allabel_core.vectors.embed import VectorCache
from allabel_core.vectors.remote import RemoteEmbedder, embedder_from_settings


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "emb.allabel", Corpus([make_sentence(*r) for r in DEMOS + QUERIES]),
                       schema=list(LABELS), name="emb")
    yield p
    p.close()


def test_second_embedder_is_refused_until_reembedded(project, fault_server, tmp_path):
    cache = VectorCache(tmp_path / "vec.sqlite")
    first = RemoteEmbedder(fault_server.url, "model-a", cache=cache)
    vecs = tasks.pool_vectors(project, first)
    assert vecs.shape == (len(project), 16)
    assert project.records.embedder() == "openai:model-a:16"
    project.records.save_projection(project.pool_ids(), np.zeros((len(project), 2)), {"method": "test"})

    fault_server.embed_model = "model-b"
    second = RemoteEmbedder(fault_server.url, "model-b", cache=cache)
    with pytest.raises(EmbedderMismatchError, match="model-a.*model-b.*re-embed"):
        tasks.pool_vectors(project, second)
    assert project.records.embedder() == "openai:model-a:16"  # nothing changed
    assert project.records.projection() is not None

    tasks.reembed(project, second)
    assert project.records.embedder() == "openai:model-b:16"
    assert project.records.projection() is None  # the old layout came from the old vectors
    assert tasks.pool_vectors(project, second).shape == (len(project), 16)

    reopened = Project.open(project.path)  # the record is in the file
    try:
        with pytest.raises(EmbedderMismatchError):
            tasks.pool_vectors(reopened, first)
    finally:
        reopened.close()


def test_settings_choose_the_embedder(project, fault_server, tmp_path):
    project.set_settings(embedder="openai", embed_base_url=fault_server.url, embed_model="m", embed_batch_size=2)
    emb = embedder_from_settings(project.settings, cache=VectorCache(tmp_path / "v.sqlite"))
    assert isinstance(emb, RemoteEmbedder) and emb.batch_size == 2 and emb.model == "m"
    with pytest.raises(ValueError, match="embedder must be one of"):
        project.set_settings(embedder="remote")
    with pytest.raises(ValueError, match="embed_concurrency must be a positive"):
        project.set_settings(embed_concurrency=0)
