"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest
from fakes import DEMOS, QUERIES, make_sentence

from allabel_core.formats import write_corpus


@pytest.fixture
def files(tmp_path, monkeypatch):
    """``(labeled, data, out)``: the demonstrations and the queries as span
    JSONL, and where to write; the answer cache goes to ``tmp_path``."""
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    labeled, data = tmp_path / "labeled.jsonl", tmp_path / "data.jsonl"
    write_corpus([make_sentence(*d) for d in DEMOS], labeled, "spacy")
    write_corpus([make_sentence(*q) for q in QUERIES], data, "spacy")
    return labeled, data, tmp_path / "out.jsonl"
