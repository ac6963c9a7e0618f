"""The offline kNN predictor, its decoder and its gazetteer.

Real-data tests use 60 MatScholar training sentences as the store and 20
development sentences as queries (skipped when ../shared/datasets is absent);
the rest use hand-made sentences. Embeddings go to a per-session cache dir.
"""

from __future__ import annotations

import inspect
import itertools
import json

import numpy as np
import pytest

from allabel_core.vectors.embed import Embedder, VectorCache
from allabel_core.predictors import DemoStore, Predictor
from allabel_core.predictors.decode import TagSpace, viterbi
from allabel_core.predictors.gazetteer import Gazetteer, word_spans
from allabel_core.predictors.knn import KnnPredictor, word_shape
from allabel_core.scoring import evaluate
from allabel_core.data.sentence import Sentence, spans_to_tags, tags_to_spans


# -- fixtures -----------------------------------------------------------------
@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    cache = tmp_path_factory.mktemp("knn_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLABEL_CACHE_DIR", str(cache))
        yield Embedder(cache=VectorCache(cache / "embeddings.sqlite"))


def _read(path, n):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in itertools.islice(f, n)]
    return [Sentence.from_tags(r["id"], r["tokens"], r["tags"])[0] for r in rows]


@pytest.fixture(scope="session")
def matscholar(shared_datasets):
    return _read(shared_datasets / "matscholar" / "train.jsonl", 60), _read(shared_datasets / "matscholar" / "dev.jsonl", 20)


@pytest.fixture(scope="session")
def store(matscholar, embedder):
    return DemoStore.from_sentences(matscholar[0], embedder)


def _hidden(sentences):
    return [s.with_spans([]) for s in sentences]


def _fingerprint(preds):
    return [(p.sentence_id, tuple(s.key() for s in p.spans), round(p.uncertainty, 9), p.demonstrations) for p in preds]


def _hand(id, words, tags):
    return Sentence.from_tags(id, words, tags)[0]


HAND = [
    _hand("h1", ["LiFePO4", "cathodes", "were", "annealed", "at", "<nUm>", "K", "."],
          ["B-MAT", "B-APL", "O", "B-SMT", "O", "O", "O", "O"]),
    _hand("h2", ["thin", "films", "of", "ZnO", "were", "grown", "by", "sputtering", "."],
          ["B-DSC", "I-DSC", "O", "B-MAT", "O", "O", "O", "B-SMT", "O"]),
    _hand("h3", ["the", "band", "gap", "of", "Graphene", "was", "measured", "."],
          ["O", "B-PRO", "I-PRO", "O", "B-MAT", "O", "O", "O"]),
    _hand("h4", ["we", "thank", "the", "reviewers", "."], ["O"] * 5),
]


# -- the predictor on real data -------------------------------------------------
def test_is_a_predictor(embedder):
    p = KnnPredictor(embedder)
    assert isinstance(p, Predictor)
    assert p.name == "offline kNN predictor"


def test_spans_are_valid_and_aligned(store, matscholar, embedder):
    dev = matscholar[1]
    preds = KnnPredictor(embedder).predict(store, _hidden(dev))
    assert [p.sentence_id for p in preds] == [s.id for s in dev]
    assert sum(len(p.spans) for p in preds) > 0
    for s, p in zip(dev, preds):
        starts, ends = {t.start for t in s.tokens}, {t.end for t in s.tokens}
        for sp in p.spans:
            assert sp.status == "suggested"
            assert sp.text == s.text[sp.start : sp.end]
            assert sp.start in starts and sp.end in ends
        tags, dropped = spans_to_tags(s.tokens, p.spans)
        assert not dropped  # no overlaps
        again, repaired = tags_to_spans(s.text, s.tokens, tags, status="suggested")
        assert repaired == 0 and list(again) == list(p.spans)
        assert p.uncertainty_kind == "knn-margin" and 0.0 <= p.uncertainty <= 1.0
        assert p.error is None


def test_duplicate_of_a_demonstration_gets_its_spans(store, matscholar, embedder):
    train = matscholar[0]
    queries = [Sentence(f"copy-{s.id}", s.text, s.tokens) for s in train[:10]]
    preds = KnnPredictor(embedder).predict(store, queries)
    for s, p in zip(train[:10], preds):
        assert [(x.start, x.end, x.label) for x in p.spans] == [(x.start, x.end, x.label) for x in s.spans]
        assert p.uncertainty == 0.0
        assert s.id in p.demonstrations


def test_near_duplicates_mostly_recover_the_demonstration(store, matscholar, embedder):
    # One word appended: no copying, the votes and entity strings must do it.
    train = matscholar[0][:20]
    queries = [Sentence.from_tags(f"near-{s.id}", s.words + ["indeed"], s.tags() + ["O"])[0].with_spans([]) for s in train]
    preds = KnnPredictor(embedder).predict(store, queries)
    gold = [s.tags() + ["O"] for s in train]
    pred = [spans_to_tags(q.tokens, p.spans)[0] for q, p in zip(queries, preds)]
    assert all("copied_from" not in p.details for p in preds)
    assert evaluate(gold, pred).f1 > 0.9  # measured 0.99


def test_query_in_the_store_is_never_its_own_demonstration(store, matscholar, embedder):
    train = matscholar[0][:15]
    preds = KnnPredictor(embedder, k=100).predict(store, train)
    for s, p in zip(train, preds):
        assert s.id not in p.demonstrations
        assert len(p.demonstrations) == len(store) - 1
        assert "copied_from" not in p.details


def test_own_annotations_do_not_vouch_for_themselves(embedder):
    # The only place "Zorblax" is annotated is the query itself.
    s1 = _hand("z1", ["we", "made", "Zorblax", "today", "."], ["O", "O", "B-MAT", "O", "O"])
    demos = DemoStore.from_sentences([s1, HAND[3]], embedder)
    (same,) = KnnPredictor(embedder).predict(demos, [s1.with_spans([])])
    assert same.demonstrations == ("h4",) and same.spans == ()
    (other,) = KnnPredictor(embedder).predict(demos, [Sentence("z2", s1.text, s1.tokens)])
    assert [sp.text for sp in other.spans] == ["Zorblax"]


def test_empty_store_predicts_nothing_with_maximal_uncertainty(embedder, matscholar):
    empty = DemoStore([], np.zeros((0, embedder.dim), np.float32))
    calls = []
    preds = KnnPredictor(embedder).predict(empty, _hidden(HAND), progress=lambda d, n: calls.append((d, n)))
    assert [p.spans for p in preds] == [()] * len(HAND)
    assert all(p.uncertainty == 1.0 and p.demonstrations == () for p in preds)
    assert calls[-1] == (len(HAND), len(HAND))
    assert KnnPredictor(embedder).predict(empty, []) == []


@pytest.mark.parametrize("n", [1, 2, 4])
def test_tiny_store(embedder, n):
    demos = DemoStore.from_sentences(HAND[:n], embedder)
    queries = _hidden(HAND) + [_hand("one", ["LiFePO4"], ["O"]), _hand("one-b", ["."], ["O"])]
    preds = KnnPredictor(embedder).predict(demos, queries)
    assert len(preds) == len(queries)
    for q, p in zip(queries, preds):
        assert all(sp.text == q.text[sp.start : sp.end] for sp in p.spans)
        assert len(p.demonstrations) == n - (1 if q.id in demos.ids else 0)
    # h1 as a query, with h1 itself excluded from a 1-sentence store: nothing to learn from.
    if n == 1:
        assert preds[0].spans == () and preds[0].demonstrations == ()


def test_store_without_entities(embedder):
    demos = DemoStore.from_sentences([HAND[3], _hand("h5", ["it", "rained", "."], ["O"] * 3)], embedder)
    preds = KnnPredictor(embedder).predict(demos, _hidden(HAND))
    assert all(p.spans == () for p in preds)


def test_one_token_and_empty_sentences(store, embedder):
    one = _hand("t1", ["graphene"], ["O"])
    empty = Sentence.from_text("t0", "")
    preds = KnnPredictor(embedder).predict(store, [one, empty])
    assert preds[1].spans == () and preds[1].uncertainty == 0.0
    assert all(sp.text == "graphene" for sp in preds[0].spans)


def test_uncertainty_higher_for_a_sentence_unlike_any_demonstration(store, matscholar, embedder):
    train = matscholar[0]
    dup = Sentence("dup", train[3].text, train[3].tokens)
    near = Sentence.from_tags("near", train[3].words + ["indeed"], ["O"] * (len(train[3].words) + 1))[0]
    odd = Sentence.from_text("odd", "lol my cat ate ur sandwich again 😂 see u tmrw !!")
    p = KnnPredictor(embedder)
    u_dup, u_near, u_odd = (x.uncertainty for x in p.predict(store, [dup, near, odd]))
    assert u_dup < u_odd and u_near < u_odd


def test_deterministic(store, matscholar, embedder):
    queries = _hidden(matscholar[1])
    a = KnnPredictor(embedder).predict(store, queries)
    b = KnnPredictor(embedder).predict(store, queries)
    p = KnnPredictor(embedder)
    c, d = p.predict(store, queries), p.predict(store, queries[::-1])[::-1]
    assert _fingerprint(a) == _fingerprint(b) == _fingerprint(c) == _fingerprint(d)


def test_demonstrations_in_prompt_order(store, matscholar, embedder):
    queries = _hidden(matscholar[1][:5])
    preds = KnnPredictor(embedder, k=7).predict(store, queries)
    # Retrieved as the predictor retrieves (hybrid by default).
    pos, sims = store.retrieve(embedder.encode([q.text for q in queries]), 7, texts=[q.text for q in queries],
                               retriever="hybrid")
    for p, row, sim in zip(preds, pos, sims):
        assert p.demonstrations == tuple(store.ids[i] for i in row[::-1])  # least similar first
        assert np.allclose(p.similarities, sim[::-1])
        assert list(p.similarities) == sorted(p.similarities)


def test_f1_on_a_real_slice_beats_the_gazetteer(store, matscholar, embedder):
    train, dev = matscholar
    gold = [s.tags() for s in dev]
    preds = KnnPredictor(embedder).predict(store, _hidden(dev))
    f1 = evaluate(gold, [spans_to_tags(s.tokens, p.spans)[0] for s, p in zip(dev, preds)]).f1
    gaz = Gazetteer(train)
    base = evaluate(gold, [gaz.longest_match(s.words) for s in dev]).f1
    # Measured with the defaults: kNN 0.54, plain gazetteer 0.20 (60
    # demonstrations, 20 queries); word vectors of one layer give 0.48.
    assert f1 > 0.45
    assert f1 > base + 0.2


# -- parameters -------------------------------------------------------------------
ALTERNATIVES = {
    "word_layers": 1,
    "k": 2,
    "retriever": "dense",
    "neighbours": 1,
    "temperature": 0.02,
    "threshold": 0.8,
    "shape_weight": 0.0,
    "context": 0.5,
    "scheme": "BIO",
    "transitions": 1.0,
    "o_weight": 0.2,
    "gazetteer": "none",
    "gazetteer_weight": 0.0,
    "ignore_case": True,
    "uncertainty": "max",
    "threads": 1,
}
SAME_OUTPUT = {"threads"}  # how the work is spread, not what comes out


def test_params_lists_every_constructor_argument(embedder):
    names = [n for n in inspect.signature(KnnPredictor.__init__).parameters if n not in ("self", "embedder")]
    assert sorted(names) == sorted(ALTERNATIVES)
    params = KnnPredictor(embedder).params()
    assert set(names) <= set(params)
    assert params["embedder"] == embedder.name and params["word_layers"] == 2 != embedder.word_layers
    assert KnnPredictor(embedder, word_layers=None).params()["word_layers"] == embedder.word_layers
    changed = KnnPredictor(embedder, **ALTERNATIVES).params()
    assert all(changed[n] == v for n, v in ALTERNATIVES.items())


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_every_parameter_changes_the_output(name, store, matscholar, embedder):
    # A lower-cased entity string of the store, which only case-insensitive matching finds.
    entity = next(sp.text for s in matscholar[0] for sp in s.spans if sp.text != sp.text.lower() and " " not in sp.text)
    case = _hand("case", ["the", entity.lower(), "films"], ["O", "O", "O"])
    queries = _hidden(matscholar[1]) * 3 + [case]  # more than one chunk of sentences
    base = KnnPredictor(embedder).predict(store, queries)
    other = KnnPredictor(embedder, **{name: ALTERNATIVES[name]})
    assert other.params()[name] == ALTERNATIVES[name] != KnnPredictor(embedder).params()[name]
    if name in SAME_OUTPUT:
        assert _fingerprint(base) == _fingerprint(other.predict(store, queries))
    else:
        assert _fingerprint(base) != _fingerprint(other.predict(store, queries))


@pytest.mark.parametrize(
    "bad", [{"word_layers": 0}, {"k": 0}, {"neighbours": 0}, {"temperature": 0}, {"o_weight": 0}, {"context": -1},
            {"scheme": "IOB1"}, {"gazetteer": "web"}, {"uncertainty": "median"}]
)
def test_rejects_bad_parameters(embedder, bad):
    with pytest.raises(ValueError):
        KnnPredictor(embedder, **bad)


# -- decoding -------------------------------------------------------------------
def _valid(tags):
    return all(not t.startswith("I-") or (prev != "O" and prev[2:] == t[2:]) for prev, t in zip(["O"] + tags, tags))


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_viterbi_matches_brute_force(scheme):
    space = TagSpace(["A", "B"], scheme)
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4):
        for _ in range(20):
            scores = np.log(rng.dirichlet(np.ones(len(space)), size=n))
            best, best_path = -np.inf, None
            for path in itertools.product(range(len(space)), repeat=n):
                tags = [space.tags[i] for i in path]
                if _valid_in_scheme(tags, scheme):
                    total = scores[np.arange(n), list(path)].sum()
                    if total > best + 1e-12:
                        best, best_path = total, path
            got = space.viterbi(scores)
            assert np.isclose(scores[np.arange(n), got].sum(), best), (n, got, best_path)
            assert _valid(space.strings(got))


def _valid_in_scheme(tags, scheme):
    prev = "O"
    for t in tags + ["O"]:
        p, label = t[0], t[2:]
        open_ = prev[0] in ("B", "I")
        if p in ("I", "E") and not (open_ and prev[2:] == label):
            return False
        if scheme == "BIOES" and open_ and not (p in ("I", "E") and prev[2:] == label):
            return False
        prev = t
    return True


def test_tagspace_round_trip_and_bioes():
    bio = ["B-A", "I-A", "I-A", "O", "B-B", "B-A", "I-A", "O", "B-A"]
    for scheme in ("BIO", "BIOES"):
        space = TagSpace(["B", "A"], scheme)
        assert space.strings(space.ids(bio)) == bio
    space = TagSpace(["A", "B"], "BIOES")
    assert [space.tags[i] for i in space.ids(bio)] == ["B-A", "I-A", "E-A", "O", "S-B", "B-A", "E-A", "O", "S-A"]
    assert space.ids(["B-Z", "O"]).tolist() == [0, 0]  # unknown types are O


def test_viterbi_with_no_words_and_transitions():
    space = TagSpace(["A"], "BIOES")
    assert space.viterbi(np.zeros((0, len(space)))).tolist() == []
    assert viterbi(np.zeros((2, 1)), np.zeros((2, 1))).tolist() == [0, 0]
    counts = space.transition_counts([space.ids(["B-A", "I-A", "O"])])
    assert counts.sum() == 3 and counts[len(space), space.id("B", "A")] == 1


# -- gazetteer --------------------------------------------------------------------
def test_gazetteer_counts_precision_and_minus():
    a = _hand("a", ["ZnO", "films", "on", "ZnO"], ["B-MAT", "O", "O", "B-MAT"])
    b = _hand("b", ["ZnO", "films"], ["B-MAT", "I-MAT"])
    c = _hand("c", ["the", "ZnO", "layer"], ["O", "O", "O"])
    gaz = Gazetteer([a, b, c])
    found = {(m.start, m.end, m.label): (m.annotated, m.seen) for m in gaz.matches(["ZnO", "films"])}
    assert found == {(0, 1, "MAT"): (2, 4), (0, 2, "MAT"): (1, 2)}
    minus = {(m.start, m.end): (m.annotated, m.seen) for m in gaz.matches(["ZnO", "films"], minus=b)}
    assert minus == {(0, 1): (2, 3)}  # b's own "ZnO films" is gone
    assert gaz.matches(["zno"]) == [] and Gazetteer([a], ignore_case=True).matches(["zno"])[0].label == "MAT"
    allowed = {(("ZnO", "films"), "MAT")}
    assert [(m.start, m.end) for m in gaz.matches(["ZnO", "films"], allowed=allowed)] == [(0, 2)]


def test_gazetteer_longest_match_and_word_spans():
    a = _hand("a", ["reduced", "graphene", "oxide", "and", "graphene"], ["B-MAT", "I-MAT", "I-MAT", "O", "B-MAT"])
    gaz = Gazetteer([a])
    assert gaz.longest_match(["reduced", "graphene", "oxide", "graphene", "x"]) == ["B-MAT", "I-MAT", "I-MAT", "B-MAT", "O"]
    assert word_spans(["O", "I-X", "I-X", "B-Y", "I-X"]) == [(1, 3, "X"), (3, 4, "Y"), (4, 5, "X")]


def test_word_shape():
    assert [word_shape(w) for w in ["Gardena", "O3Y2", "1,000", "lol", "@paul_w"]] == ["Xx", "XdXd", "d,d", "x", "@x_x"]


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_viterbi_many_matches_one_by_one(scheme):
    space = TagSpace(["A", "B", "C"], scheme)
    rng = np.random.default_rng(1)
    batch = [np.log(rng.dirichlet(np.ones(len(space)) * 0.3, size=int(n))) for n in rng.integers(0, 40, 70)]
    for trans in (None, rng.normal(size=(len(space) + 1, len(space)))):
        many = space.viterbi_many(batch, trans)
        assert [m.tolist() for m in many] == [space.viterbi(x, trans).tolist() for x in batch]
