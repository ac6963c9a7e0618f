"""The offline kNN predictor: no network, no GPU, no key.

Token-level nearest-neighbour label transfer in the spirit of kNN-NER (Wang
et al., 2022, "kNN-NER: Named Entity Recognition with Nearest Neighbor
Search"), restricted to retrieved demonstrations as an LLM would see them:

1. Retrieve the query's ``k`` most similar demonstrations with the chosen
   retriever (``dense`` sentence vectors, ``bm25`` or ``hybrid``; see
   :mod:`allabel_core.retrieval`), never the query itself when it is also
   in the store.
2. Every query word votes over tags with its ``neighbours`` nearest words
   among those demonstrations. Word similarity is the cosine of contextual
   MiniLM word vectors, mixed with agreement of the words' shapes
   (``Xxxx``, ``XdXd``: MiniLM is uncased) and of their left and right
   neighbours' vectors. A neighbour at similarity ``s`` weighs
   ``exp((s - 1) / temperature)``; an *abstain* weight
   ``exp((threshold - 1) / temperature)`` joins every vote without backing a
   tag, so a word whose neighbours are all far is O, and unsure.
3. Entity strings of the demonstrations found verbatim in the query add
   ``gazetteer_weight * precision`` to the tags of the words they cover
   (precision: how often the string is annotated where it occurs in the
   store; see :mod:`.gazetteer`).
4. Constrained Viterbi in the BIOES scheme (by default) returns whole, valid
   spans; where entities end is voted on, not guessed.
5. A retrieved demonstration with exactly the query's words is copied as it is.

Uncertainty (kind ``"knn-margin"``): per word, ``1 - (p1 - p2)`` over its
tag distribution (abstain mass included, so a word unlike anything seen is
unsure); per sentence, the ``"mean"`` over its words or the ``"max"``.

The defaults were chosen on the dev splits of MatScholar, BC5CDR and WNUT-17
(train as the store; ``benchmarks/tune_knn.py`` prints the grid): strict F1
0.699 / 0.764 / 0.395 there, against 0.521 / 0.713 / 0.000 for a plain
longest-match gazetteer of the training entities. BIOES decoding was worth
+4 F1 on the scientific sets; word shapes and two-layer word vectors most of
WNUT's gain. Those figures were measured with dense retrieval; the default became
``hybrid`` afterwards (``benchmarks/tune_retrieval.py demos``, 500 dev
sentences each, all of train as the store): F1 0.718 / 0.783 / 0.353
against 0.701 / 0.761 / 0.382 for dense, and with a random 10 % of train
0.628 / 0.673 / 0.344 against 0.614 / 0.669 / 0.356 — better on the
scientific sets, worse on WNUT's tweets, where ``retriever="dense"`` is the
better choice. ``k`` 64 and store-wide entity strings stayed best under
hybrid retrieval (``tune_retrieval.py knn``). ``"mean"`` is the default aggregate because it ranks sentences
with errors better among sentences of similar length (AUROC 0.79 / 0.78 /
0.74 against 0.70 / 0.78 / 0.74 for ``"max"``, whose edge overall is mostly
that longer sentences hold more errors).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ConfigError

from ..data.sentence import Sentence, tags_to_spans
from ..jobs import Progress
from ..retrieval import DEFAULT_RETRIEVER, as_config
from .base import DemoStore, Prediction
from .registry import KNN
from .decode import SCHEMES, TagSpace
from .gazetteer import Gazetteer, word_spans

try:  # a dependency of scikit-learn, so normally present
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

KIND = "knn-margin"
GAZETTEER_SCOPES = ("store", "retrieved", "none")
AGGREGATES = ("mean", "max")
_CHUNK = 32  # sentences decoded together, and handed to a thread at a time


def word_shape(word: str) -> str:
    """The short shape of a word: ``Gardena`` -> ``Xx``, ``O3Y2`` -> ``XdXd``,
    ``1,000`` -> ``d,d``."""
    out: list[str] = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


class _StoreView:
    """What the predictor derives from one DemoStore, computed once per store."""

    def __init__(self, demos: DemoStore, scheme: str, ignore_case: bool):
        self.tagspace = TagSpace((sp.label for s in demos.sentences for sp in s.spans), scheme)
        self.words = [tuple(s.words) for s in demos.sentences]
        bio = [s.tags() for s in demos.sentences]
        self.tag_ids = [self.tagspace.ids(t) for t in bio]
        # With a -1 after each sentence, aligned with the padded vectors.
        self.padded_tags = [np.append(t, -1) for t in self.tag_ids]
        self.shape_ids: dict[str, int] = {}
        self.padded_shapes = [
            np.array([self.shape_ids.setdefault(word_shape(x), len(self.shape_ids)) for x in w] + [-1]) for w in self.words
        ]
        self.gazetteer = Gazetteer(demos.sentences, ignore_case=ignore_case)
        self.entities = [
            {(self.gazetteer.normalise(w[a:b]), label) for a, b, label in word_spans(t)}
            for w, t in zip(self.words, bio)
        ]
        self.position = {sid: i for i, sid in enumerate(demos.ids)}
        counts = self.tagspace.transition_counts(self.tag_ids) + 1.0
        self.log_transitions = np.log(counts / counts.sum(1, keepdims=True))
        self.vectors: list[np.ndarray | None] = [None] * len(demos)

    def shapes(self, words: Sequence[str]) -> np.ndarray:
        """Shape ids of a query's words; a shape no demonstration has is -2."""
        return np.array([self.shape_ids.get(word_shape(w), -2) for w in words], dtype=np.int64)

    def load(self, positions: Sequence[int], embedder) -> None:
        """Fetch the word vectors of these demonstrations (cached on disk).

        Each is kept with a zero row after it, so that the demonstrations of a
        query concatenate into one matrix in which every sentence is framed by
        zero rows (what the context similarity shifts into at sentence edges).
        """
        missing = sorted({p for p in positions if self.vectors[p] is None})
        if missing:
            for p, v in zip(missing, embedder.word_vectors([self.words[p] for p in missing])):
                self.vectors[p] = np.concatenate([v, np.zeros((1, v.shape[1]), np.float32)])


class KnnPredictor:
    """Labels words by similarity-weighted votes of the nearest words in the
    retrieved demonstrations, plus their entity strings, decoded as whole spans.

    Args:
        embedder: an :class:`allabel_core.vectors.embed.Embedder` (sentence and word
            vectors, cached).
        word_layers: word vectors average this many last layers of the
            model (``None``: the embedder's own setting). Shares the
            embedder's model and cache.
        k: demonstrations retrieved per query sentence.
        retriever: how they are retrieved: ``"hybrid"`` (default),
            ``"dense"``, ``"bm25"`` or a
            :class:`~allabel_core.retrieval.RetrieverConfig`.
        neighbours: nearest demonstration words voting for each query word.
        temperature: softness of the similarity weights (lower: the nearest
            neighbour counts more).
        threshold: word similarity at which one neighbour's vote equals the
            abstain weight; words whose neighbours lie well below it are O.
        shape_weight: weight of "same word shape" in word similarity
            (similarity = (cosine + shape_weight * same) / (1 + shape_weight)).
        context: weight of the left and right neighbours' cosines in word
            similarity (0: the word alone).
        scheme: tags voted on and decoded, ``"BIOES"`` or ``"BIO"``.
        transitions: weight of tag-bigram log frequencies of the store in
            decoding (0: only validity constraints).
        o_weight: multiplies the probability of O before decoding (< 1 finds
            more entities, > 1 fewer).
        gazetteer: which entity strings are matched verbatim: those of the
            whole ``"store"``, of the ``"retrieved"`` demonstrations, or ``"none"``.
        gazetteer_weight: what a match of precision 1 adds to a word's tag
            probabilities (which sum to 1 before it).
        ignore_case: match entity strings case-insensitively.
        uncertainty: per-sentence aggregate of word doubt, ``"mean"`` or ``"max"``.
        threads: sentences are predicted in chunks on this many threads (the
            results do not depend on it).
    """

    name = "offline kNN predictor"
    ledger = None  # no requests, nothing to count

    def identity(self) -> dict:
        return {"model": self.name, "base_url": ""}

    def __init__(
        self,
        embedder,
        *,
        word_layers: int | None = 2,
        k: int = 64,
        retriever=DEFAULT_RETRIEVER,
        neighbours: int = 10,
        temperature: float = 0.1,
        threshold: float = 0.3,
        shape_weight: float = 0.25,
        context: float = 0.25,
        scheme: str = "BIOES",
        transitions: float = 0.0,
        o_weight: float = 0.7,
        gazetteer: str = "store",
        gazetteer_weight: float = 3.0,
        ignore_case: bool = False,
        uncertainty: str = "mean",
        threads: int = 2,
    ):
        if k < 1 or neighbours < 1:
            raise ConfigError(f"k and neighbours must be at least 1, got k={k}, neighbours={neighbours}")
        if temperature <= 0 or o_weight <= 0:
            raise ConfigError(f"temperature and o_weight must be positive, got {temperature}, {o_weight}")
        if min(shape_weight, context, transitions, gazetteer_weight) < 0:
            raise ConfigError("shape_weight, context, transitions and gazetteer_weight must not be negative")
        for value, allowed, what in (
            (scheme, tuple(SCHEMES), "scheme"),
            (gazetteer, GAZETTEER_SCOPES, "gazetteer"),
            (uncertainty, AGGREGATES, "uncertainty"),
        ):
            if value not in allowed:
                raise ConfigError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
        self.embedder = embedder
        self.word_layers = word_layers
        self.word_embedder = _with_word_layers(embedder, word_layers)
        self.k = int(k)
        self.retriever = as_config(retriever)
        self.neighbours = int(neighbours)
        self.temperature = float(temperature)
        self.threshold = float(threshold)
        self.shape_weight = float(shape_weight)
        self.context = float(context)
        self.scheme = scheme
        self.transitions = float(transitions)
        self.o_weight = float(o_weight)
        self.gazetteer = gazetteer
        self.gazetteer_weight = float(gazetteer_weight)
        self.ignore_case = bool(ignore_case)
        self.uncertainty = uncertainty
        self.threads = max(1, int(threads))
        self._views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()  # one predictor may serve several sessions at once

    @property
    def reads_whole_store(self) -> bool:
        """Whether a prediction depends on demonstrations beyond the ``k``
        retrieved: the store-wide gazetteer matches every stored entity string."""
        return self.gazetteer == "store"

    def params(self) -> dict:
        return {
            "predictor": KNN,
            "embedder": getattr(self.embedder, "name", type(self.embedder).__name__),
            "word_layers": getattr(self.word_embedder, "word_layers", None),
            "k": self.k,
            **self.retriever.params(),
            "neighbours": self.neighbours,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "shape_weight": self.shape_weight,
            "context": self.context,
            "scheme": self.scheme,
            "transitions": self.transitions,
            "o_weight": self.o_weight,
            "gazetteer": self.gazetteer,
            "gazetteer_weight": self.gazetteer_weight,
            "ignore_case": self.ignore_case,
            "uncertainty": self.uncertainty,
            "threads": self.threads,
        }

    def _view(self, demos: DemoStore) -> _StoreView:
        with self._lock:
            view = self._views.get(demos)
            if view is None:
                view = self._views[demos] = _StoreView(demos, self.scheme, self.ignore_case)
            return view

    def predict(
        self,
        demos: DemoStore,
        sentences: Sequence[Sentence],
        *,
        progress: Progress | None = None,
    ) -> list[Prediction]:
        """Predict spans for ``sentences`` from the demonstrations in ``demos``.

        Returns one :class:`Prediction` per sentence, in order. With an empty
        store nothing is predicted and every uncertainty is 1 (the maximum).
        """
        sentences = list(sentences)
        n = len(sentences)
        if n == 0:
            return []
        if len(demos) == 0:
            if progress:
                progress(n, n)
            return [Prediction(s.id, (), 1.0, KIND) for s in sentences]
        view = self._view(demos)
        qvecs = self.embedder.encode([s.text for s in sentences])
        has_words = [q for q, s in enumerate(sentences) if s.tokens]
        qwords: list[np.ndarray] = [np.zeros((0, qvecs.shape[1]), np.float32)] * n
        for q, v in zip(has_words, self.word_embedder.word_vectors([sentences[q].words for q in has_words])):
            qwords[q] = v
        positions, sims = self._retrieve(demos, qvecs, sentences)
        with self._lock:
            view.load([p for row in positions for p in row], self.word_embedder)
        chunks = [range(c, min(c + _CHUNK, n)) for c in range(0, n, _CHUNK)]

        def run(chunk: range) -> list[Prediction]:
            return self._predict_chunk(demos, view, [sentences[q] for q in chunk], [qwords[q] for q in chunk],
                                       [positions[q] for q in chunk], [sims[q] for q in chunk])

        out: list[Prediction] = []
        # The per-sentence products are tiny: a multi-threaded BLAS spends far
        # more on waking threads than on them (25x slower on two busy cores),
        # so BLAS gets one thread and the chunks of sentences get the cores.
        single = threadpool_limits(1, user_api="blas") if threadpool_limits else contextlib.nullcontext()
        workers = min(self.threads, len(chunks))
        with single, ThreadPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
            for preds in pool.map(run, chunks) if pool else map(run, chunks):
                out.extend(preds)
                if progress:
                    progress(len(out), n)  # from the calling thread, in order
        return out

    def _retrieve(self, demos: DemoStore, qvecs: np.ndarray, sentences) -> tuple[list[list[int]], list[np.ndarray]]:
        """Per query, the ``k`` best demonstration positions and scores,
        best first, never the query's own id."""
        ids = [s.id for s in sentences]
        pos, sims = demos.retrieve(qvecs, self.k, exclude=ids, texts=[s.text for s in sentences], retriever=self.retriever)
        keep = pos >= 0
        return [[int(p) for p in pos[q][keep[q]]] for q in range(len(ids))], [sims[q][keep[q]] for q in range(len(ids))]

    def _predict_chunk(self, demos: DemoStore, view: _StoreView, sentences, qwords, positions, sims) -> list[Prediction]:
        """Predictions for a few sentences: votes one by one, decoding together."""
        space = view.tagspace
        scored = [self._score(demos, view, s, w, p) for s, w, p in zip(sentences, qwords, positions)]
        todo = [i for i, sc in enumerate(scored) if isinstance(sc[0], np.ndarray)]
        trans = self.transitions * view.log_transitions if self.transitions else None
        paths = space.viterbi_many([scored[i][0] for i in todo], trans)
        for i, path in zip(todo, paths):
            scored[i] = (space.strings(path), *scored[i][1:])
        out = []
        for sentence, (tags, doubt, details), pos, sim in zip(sentences, scored, positions, sims):
            spans, _ = tags_to_spans(sentence.text, sentence.tokens, tags, status="suggested")
            agg = float(doubt.max() if self.uncertainty == "max" else doubt.mean()) if len(doubt) else 0.0
            details["word_uncertainty"] = [round(float(d), 4) for d in doubt]
            out.append(Prediction(
                sentence.id, tuple(spans), agg, KIND,
                tuple(demos.ids[p] for p in pos[::-1]),  # prompt order: least similar first
                tuple(float(x) for x in sim[::-1]),
                details=details,
            ))
        return out

    def _score(self, demos: DemoStore, view: _StoreView, sentence: Sentence, qwords: np.ndarray, pos: list[int]):
        """``(log_scores (n_words, n_tags), doubt (n_words,), details)`` for
        decoding, or ``(tags, doubt, details)`` when there is nothing to
        decode (no words, or a demonstration with the very same words)."""
        space = view.tagspace
        words = tuple(sentence.words)
        details: dict = {}
        if not words:
            return [], np.zeros(0), details
        twin = next((p for p in pos if view.words[p] == words), None)
        if twin is not None:
            details["copied_from"] = demos.ids[twin]
            return space.strings(view.tag_ids[twin]), np.zeros(len(words)), details
        probs, abstain = self._votes(view, qwords, view.shapes(words), pos)
        matches = self._matches(demos, view, sentence, pos)
        details["gazetteer_matches"] = len(matches)
        if matches and self.gazetteer_weight > 0:
            evidence = np.zeros_like(probs)
            for m in matches:
                for i, prefix in enumerate(_prefixes(m.end - m.start, space.scheme)):
                    evidence[m.start + i, space.id(prefix, m.label)] += m.precision
            probs = probs + self.gazetteer_weight * evidence
            total = probs.sum(1) + abstain
            probs, abstain = probs / total[:, None], abstain / total
        top2 = np.sort(probs, axis=1)[:, -2:] if probs.shape[1] > 1 else np.hstack([np.zeros_like(probs), probs])
        doubt = 1.0 - (top2[:, 1] - top2[:, 0])
        decoded = probs.copy()
        decoded[:, 0] = (decoded[:, 0] + abstain) * self.o_weight
        return np.log(np.maximum(decoded, 1e-12)), doubt, details

    def _votes(self, view: _StoreView, qwords: np.ndarray, qshapes: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tag probabilities ``(n_words, n_tags)`` and abstain mass ``(n_words,)``
        (together they sum to 1 per word)."""
        n_words, n_tags = len(qwords), len(view.tagspace)
        if len(pos) == 0:
            return np.zeros((n_words, n_tags)), np.ones(n_words)
        pad = np.zeros((1, qwords.shape[1]), np.float32)
        vectors = np.concatenate([pad] + [view.vectors[p] for p in pos])  # every sentence framed by zero rows
        tags = np.concatenate([[-1]] + [view.padded_tags[p] for p in pos])
        real = np.flatnonzero(tags >= 0)
        labels = tags[real]
        if self.context:
            full = np.concatenate([pad, qwords, pad]) @ vectors.T  # (n_words + 2, rows)
            sims = full[1:-1, real] + self.context * (full[:-2, real - 1] + full[2:, real + 1])
            sims /= 1.0 + 2.0 * self.context
        else:
            sims = (qwords @ vectors.T)[:, real]
        if self.shape_weight:
            shapes = np.concatenate([view.padded_shapes[p] for p in pos])[real - 1]
            sims = (sims + self.shape_weight * (qshapes[:, None] == shapes[None, :])) / (1.0 + self.shape_weight)
        m = min(self.neighbours, sims.shape[1])
        if m < sims.shape[1]:
            top = np.argpartition(sims, -m, axis=1)[:, -m:]
            sims = np.take_along_axis(sims, top, axis=1)
            near = labels[top]
        else:
            near = np.broadcast_to(labels, sims.shape)
        weights = np.exp((sims.astype(np.float64) - 1.0) / self.temperature)
        cells = (np.arange(n_words)[:, None] * n_tags + near).ravel()
        votes = np.bincount(cells, weights.ravel(), minlength=n_words * n_tags).reshape(n_words, n_tags)
        abstain = np.exp((self.threshold - 1.0) / self.temperature)
        total = votes.sum(1) + abstain
        return votes / total[:, None], abstain / total

    def _matches(self, demos: DemoStore, view: _StoreView, sentence: Sentence, pos: np.ndarray):
        if self.gazetteer == "none":
            return []
        allowed = None
        if self.gazetteer == "retrieved":
            allowed = set().union(*(view.entities[p] for p in pos))
        own = view.position.get(sentence.id)
        minus = demos.sentences[own] if own is not None else None
        return view.gazetteer.matches(sentence.words, allowed=allowed, minus=minus)


def _with_word_layers(embedder, layers: int | None):
    """The embedder, or a shallow copy of it (same model, same cache) whose
    word vectors average ``layers`` last layers."""
    if layers is not None and layers < 1:
        raise ConfigError(f"word_layers must be at least 1, got {layers}")
    if layers is None or getattr(embedder, "word_layers", layers) == layers:
        return embedder
    words = copy.copy(embedder)
    words.word_layers = int(layers)
    return words


def _prefixes(length: int, scheme: str) -> list[str]:
    """Tag prefixes of an entity of ``length`` words."""
    if scheme == "BIO":
        return ["B"] + ["I"] * (length - 1)
    if length == 1:
        return ["S"]
    return ["B"] + ["I"] * (length - 2) + ["E"]
