"""Retrieval: the science tokenizer, BM25 against a brute-force scorer,
reciprocal-rank fusion against a hand-computed ranking, the one retriever
interface, and its use in the demonstration store and stage 2."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from allabel_core.errors import ConfigError
from allabel_core.predictors.base import DemoStore
from allabel_core.retrieval import (
    Bm25Retriever,
    RetrieverConfig,
    as_config,
    make_retriever,
    reciprocal_rank_fusion,
    terms,
)
from allabel_core.retrieval import bm25 as bm25_module
from allabel_core.selection import coverage_lists, select_similarity
from allabel_core.data.sentence import Sentence


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))


# -- the tokenizer -------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("The LiFePO4 cathode", ["LiFePO4", "cathode"]),
    ("TiO2, NaCl and CO.", ["TiO2", "NaCl", "CO"]),
    ("heated to 300 K and 300K", ["heated", "300K", "300K"]),
    ("a 2.5 eV gap (10 nm) at 5 mg/kg", ["2.5eV", "gap", "10nm", "5mg/kg"]),
    ("4-hydroxy-tamoxifen and 1,2-dichloroethane", ["4-hydroxy-tamoxifen", "1,2-dichloroethane"]),
    ("(Ba,Sr)TiO3 and Fe(III) with Ca2+", ["(Ba,Sr)TiO3", "Fe(III)", "Ca2+"]),
    ("COVID-19 raised IL-6 (BMI)", ["COVID-19", "raised", "IL-6", "BMI"]),
    ("Li\u2013ion at \u221240 \u00b0C", ["li-ion", "-40°C"]),
    ("5 mines in 10 %", ["5", "mines", "10%"]),
])
def test_terms_keep_formulas_quantities_and_hyphenated_names_whole(text, expected):
    assert terms(text) == expected


def test_terms_case_and_stopwords():
    # Plain words are lower-cased and stop words dropped; symbols keep case.
    assert terms("The Cathode is THE best") == ["cathode", "THE", "best"]
    assert terms("the cathode", stopwords=()) == ["the", "cathode"]
    assert terms("") == [] and terms(" ,.;( ) ") == []


# -- BM25 against a brute-force scorer -----------------------------------------
TOY = [
    "LiFePO4 cathode cycled at 300 K",
    "the cathode of LiFePO4 and LiFePO4 coatings",
    "TiO2 nanoparticles of 10 nm",
    "anatase TiO2 films annealed at 300 K for photocatalysis",
    "a review of battery cathode materials",
    "nothing in common here",
]


def brute_bm25(docs: list[list[str]], query: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """BM25 (Lucene variant) written out term by term."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    df = Counter(t for d in docs for t in set(d))
    out = np.zeros(n)
    for i, d in enumerate(docs):
        tf = Counter(d)
        for t in set(query):
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                out[i] += idf * tf[t] / (tf[t] + k1 * (1 - b + b * len(d) / avgdl))
    return out


@pytest.mark.parametrize("query", ["LiFePO4 cathode", "TiO2 at 300 K", "cathode cathode review", "unrelated words"])
def test_bm25_matches_brute_force(query):
    r = Bm25Retriever(TOY)
    expected = brute_bm25([terms(t) for t in TOY], terms(query))
    np.testing.assert_allclose(r.scores(query), expected, rtol=1e-5, atol=1e-6)
    ids, scores = r.search([query], None, 4)
    positive = [i for i in sorted(range(len(TOY)), key=lambda i: (-expected[i], i)) if expected[i] > 0][:4]
    assert ids[0][: len(positive)].tolist() == positive
    assert (ids[0][len(positive):] == -1).all() and np.isneginf(scores[0][len(positive):]).all()
    np.testing.assert_allclose(scores[0][: len(positive)], expected[positive], rtol=1e-5)


def test_bm25_quantity_matches_both_spellings_and_ties_go_to_lower_id():
    r = Bm25Retriever(["cooled to 77K", "cooled to 77 K", "cooled to 77 mK"])
    ids, scores = r.search(["measured at 77 K"], None, 3)
    assert ids[0].tolist() == [0, 1, -1]  # equal scores: id order; "77mK" is another quantity
    assert scores[0][0] == scores[0][1] > 0


def test_bm25_index_is_cached_on_disk_for_large_corpora(monkeypatch, tmp_path):
    monkeypatch.setattr(bm25_module, "DISK_MIN", 3)
    bm25_module._memo.clear()
    first = Bm25Retriever(TOY)
    assert first.source == "built"
    assert len(list((tmp_path / "cache" / "bm25").iterdir())) == 1
    bm25_module._memo.clear()
    again = Bm25Retriever(TOY)
    assert again.source == "disk"
    np.testing.assert_allclose(again.scores("TiO2 cathode"), first.scores("TiO2 cathode"))
    assert Bm25Retriever(TOY).source == "memory"
    # Another corpus, or other constants, never reads that index.
    assert Bm25Retriever(TOY[:-1]).source == "built" and Bm25Retriever(TOY, k1=1.2).source == "built"


# -- fusion against a hand-computed ranking ------------------------------------
def test_reciprocal_rank_fusion_hand_computed():
    dense = [3, 1, 2, -1]
    lexical = [1, 4, 3]
    ids, scores = reciprocal_rank_fusion([dense, lexical], 5, c=1.0)
    # c = 1: doc 1 = 1/3 + 1/2; doc 3 = 1/2 + 1/4; doc 4 = 1/3; doc 2 = 1/4.
    assert ids.tolist() == [1, 3, 4, 2]
    np.testing.assert_allclose(scores, [5 / 6, 3 / 4, 1 / 3, 1 / 4], rtol=1e-6)


def test_reciprocal_rank_fusion_ties_and_constant():
    # Two documents each first in one list tie; the first list's goes first.
    ids, _ = reciprocal_rank_fusion([[7], [9]], 2, c=60)
    assert ids.tolist() == [7, 9]
    # A large constant rewards the document both lists rank; a small one lets first places win.
    lists = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 9]]
    assert reciprocal_rank_fusion(lists, 1, c=100.0)[0].tolist() == [9]
    assert reciprocal_rank_fusion(lists, 1, c=0.0)[0].tolist() == [0]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion(lists, 1, c=-1)


# -- one interface ---------------------------------------------------------------
def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECS = unit(np.random.default_rng(0).normal(size=(len(TOY), 8)))


def test_hybrid_is_the_fusion_of_dense_and_bm25():
    query_vec = unit(VECS[2:3] + 0.1)
    dense = make_retriever("dense", TOY, VECS)
    bm25 = make_retriever("bm25", TOY, None)
    hybrid = make_retriever(RetrieverConfig("hybrid", rrf_k=10.0), TOY, VECS)
    d_ids, _ = dense.search(["TiO2 at 300 K"], query_vec, len(TOY))
    b_ids, _ = bm25.search(["TiO2 at 300 K"], None, len(TOY))
    h_ids, _ = hybrid.search(["TiO2 at 300 K"], query_vec, 4)
    expected, _ = reciprocal_rank_fusion([d_ids[0], b_ids[0]], 4, c=10.0)
    assert h_ids[0].tolist() == expected.tolist()


def test_retriever_config_errors_and_params():
    with pytest.raises(ConfigError, match="unknown retriever 'sparse'"):
        as_config("sparse")
    with pytest.raises(ConfigError, match="needs the sentences' text"):
        make_retriever("bm25", None, VECS)
    with pytest.raises(ConfigError, match="rrf_k"):
        RetrieverConfig("hybrid", rrf_k=-1)
    assert as_config("hybrid", 30).params()["rrf_k"] == 30.0
    assert as_config(None).params() == {"retriever": "dense", "similarity": "cosine of unit sentence vectors"}
    assert "tokenizer" in as_config("bm25").params()


def sent(i, text, ents=()):
    s, _ = Sentence.from_tags(f"s{i}", text.split(), ["O"] * len(text.split()))
    spans = []
    for word, label in ents:
        start = text.index(word)
        spans.append((start, start + len(word), label))
    from allabel_core.data.sentence import Span

    return s.with_spans([Span(a, b, lab, text[a:b], "gold") for a, b, lab in spans])


def test_demo_store_retrieves_with_each_retriever_and_excludes_the_query():
    sentences = [sent(i, t) for i, t in enumerate(TOY)]
    store = DemoStore(sentences, VECS)
    texts = [TOY[1]]
    pos, scores = store.retrieve(VECS[1:2], 2, exclude=["s1"], texts=texts, retriever="bm25")
    assert 1 not in pos[0] and pos[0][0] == 0  # the other LiFePO4 cathode sentence
    assert scores[0][0] > 0
    with pytest.raises(ValueError, match="query texts"):
        store.retrieve(VECS[1:2], 2, retriever="hybrid")
    dense, _ = store.retrieve(VECS[1:2], 2, exclude=["s1"])
    assert 1 not in dense[0]
    assert store.retriever("bm25") is store.retriever(RetrieverConfig("bm25"))  # built once


def test_stage2_lists_use_the_retriever():
    target = ["LiFePO4 cathode at 300 K", "TiO2 of 10 nm"]
    tvecs = unit(np.random.default_rng(1).normal(size=(2, 8)))
    lists = coverage_lists(VECS, tvecs, 2, retriever="bm25", pool_texts=TOY, target_texts=target)
    assert lists[0].tolist() == [0, 1] and lists[1].tolist() == [2, 3]
    sel = select_similarity(VECS, [], 2, rng=np.random.default_rng(0), target_vectors=tvecs, k_cov=2,
                            retriever="bm25", pool_texts=TOY, target_texts=target)
    assert set(sel.indices) == {0, 2} and sel.params["retriever"] == "bm25"
    with pytest.raises(ValueError, match="needs the sentences' text"):
        coverage_lists(VECS, tvecs, 2, retriever="hybrid")
    # The pool as its own target: a row never lists itself.
    own = coverage_lists(VECS, None, 2, retriever="bm25", pool_texts=TOY)
    assert all(q not in row for q, row in enumerate(own))
