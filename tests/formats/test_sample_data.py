"""The sample corpus is consistent enough to teach with."""

import json
from collections import defaultdict

import pytest

from allabel_core.formats import read_corpus
from allabel_core.paths import sample_data_dir
from allabel_core.data.sentence import spans_to_tags

DIR = sample_data_dir()


@pytest.fixture(scope="module")
def corpora():
    return read_corpus(DIR / "pool.jsonl"), read_corpus(DIR / "test.jsonl")


def test_sizes_and_disjoint_ids(corpora):
    pool, test = corpora
    assert len(pool) + len(test) >= 600
    assert 80 <= len(test) <= 150
    assert not set(pool.ids) & set(test.ids)
    texts = [s.text.lower() for s in [*pool, *test]]
    assert len(set(texts)) == len(texts), "near-duplicate sentences"


def test_every_schema_label_is_used_and_nothing_else(corpora):
    schema = json.loads((DIR / "schema.json").read_text(encoding="utf-8"))
    names = [lab["name"] for lab in schema["labels"]]
    assert len(names) >= 6
    assert all(lab["description"] and lab["color"].startswith("#") for lab in schema["labels"])
    pool, test = corpora
    counts = pool.label_counts()
    assert set(counts) == set(names)
    assert min(counts.values()) >= 60
    assert set(test.labels) <= set(names)


def test_a_surface_string_never_carries_two_labels(corpora):
    labels = defaultdict(set)
    for corpus in corpora:
        for s in corpus:
            for sp in s.spans:
                labels[sp.text].add(sp.label)
    clashes = {text: sorted(ls) for text, ls in labels.items() if len(ls) > 1}
    # sample_data/README.md lists the documented exceptions: there are none.
    assert clashes == {}


def test_spans_are_trimmed_and_bio_round_trips(corpora):
    for corpus in corpora:
        for s in corpus:
            for sp in s.spans:
                assert sp.text == sp.text.strip()
                assert sp.text[-1] not in ".,;:"
            tags, dropped = spans_to_tags(s.tokens, s.spans)
            assert not dropped, f"{s.id}: overlapping spans"
            assert sum(t.startswith("B-") for t in tags) == len(s.spans)


def test_hard_cases_are_present(corpora):
    texts = " ".join(s.text for c in corpora for s in c)
    for needle in ("LiFePO4", "CH3NH3PbI3", "°C", "−"):
        assert needle in texts
    assert any(ord(ch) > 0xFFFF for ch in texts), "no astral characters"
