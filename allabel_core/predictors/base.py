"""What every predictor shares: the demonstration store, the prediction
record, and the predictor interface.

A predictor labels sentences by retrieving the most similar *annotated*
sentences (the selected set ``S``) as demonstrations. Only ``gold`` and
``confirmed`` spans are ever demonstrations; ``suggested`` spans are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import DimensionError
from ..data.sentence import TRUSTED, Sentence, Span
from ..jobs import Progress
from ..retrieval import as_config, make_retriever
from .ledger import Ledger

# How a sentence's prediction came out: an answer that was read; a request
# that failed (``error_kind`` says how); an answer cut short (at max_tokens,
# even after one retry with a larger limit); an answer with nothing readable.
OUTCOMES = ("ok", "failed", "truncated", "unparseable")


@dataclass(frozen=True)
class Prediction:
    """One sentence's predicted spans and how they came about.

    ``spans`` carry status ``suggested``. ``uncertainty`` is higher when the
    predictor is less sure (``uncertainty_kind`` says which measure:
    ``"knn-margin"``, ``"perplexity"`` or ``"disagreement"``).
    ``demonstrations`` are the retrieved sentence ids in prompt order —
    least similar first, most similar last, nearest the query — with the
    retriever's scores as ``similarities`` in the same order (cosine for
    ``dense``, BM25 score for ``bm25``, fused reciprocal ranks for
    ``hybrid``). ``error`` is set (and
    ``spans`` empty) when this sentence failed; a failed sentence never fails
    the batch. ``outcome`` is one of :data:`OUTCOMES` (``"failed"`` whenever
    ``error`` is set), ``error_kind`` the failure's kind (``timeout``,
    ``rate_limit``, ...). Only ``ok`` predictions are answers to score or
    cache; the spans of a ``truncated`` one are what could be read of it.
    ``details`` holds what the Predictions page shows (rendered prompt, raw
    answer, parse counts), free-form.
    """

    sentence_id: str
    spans: tuple[Span, ...]
    uncertainty: float
    uncertainty_kind: str
    demonstrations: tuple[str, ...] = ()
    similarities: tuple[float, ...] = ()
    error: str | None = None
    details: dict = field(default_factory=dict, compare=False)
    outcome: str = "ok"
    error_kind: str | None = None

    def __post_init__(self):
        if self.error is not None and self.outcome == "ok":
            object.__setattr__(self, "outcome", "failed")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")

    @property
    def succeeded(self) -> bool:
        return self.outcome == "ok"


class DemoStore:
    """The retrieval corpus: annotated sentences and their sentence vectors.

    ``sentences`` keep only trusted (gold/confirmed) spans. ``vectors``:
    ``(len(sentences), d)`` float32, unit rows, aligned with ``sentences``.
    A retriever (:mod:`allabel_core.retrieval`) is built the first time a
    predictor asks for it, and kept.
    """

    def __init__(self, sentences: Sequence[Sentence], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(sentences):
            raise DimensionError(f"{len(sentences)} demonstrations but vectors of shape {vectors.shape}")
        self.sentences = [s.with_spans(s.spans_with(TRUSTED)) for s in sentences]
        self.vectors = vectors
        self.ids = [s.id for s in self.sentences]
        self._retrievers: dict = {}

    @classmethod
    def from_sentences(cls, sentences: Sequence[Sentence], embedder) -> DemoStore:
        """Embed (cached) and index ``sentences``."""
        sentences = list(sentences)
        vectors = embedder.encode([s.text for s in sentences]) if sentences else np.zeros((0, embedder.dim), np.float32)
        return cls(sentences, vectors)

    def __len__(self) -> int:
        return len(self.sentences)

    def retriever(self, config="dense"):
        """The store's retriever of this kind (a name or a
        :class:`~allabel_core.retrieval.RetrieverConfig`), built once."""
        config = as_config(config)
        if config not in self._retrievers:
            self._retrievers[config] = make_retriever(config, [s.text for s in self.sentences], self.vectors)
        return self._retrievers[config]

    def retrieve(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        retriever="dense",
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar demonstrations per query, best first.

        ``queries``: ``(n_queries, d)`` unit sentence vectors; ``texts``:
        the queries' texts (needed by the ``bm25`` and ``hybrid``
        retrievers); ``retriever``: a name or a
        :class:`~allabel_core.retrieval.RetrieverConfig` (default dense).
        Returns ``(positions, scores)``, both ``(n_queries, k')`` with
        ``k' = min(k, len(self))`` (one fewer when every query is excluded
        from a store that small); positions index ``self.sentences``; a
        query that finds fewer (BM25 returns only stored sentences sharing a
        term with it) gets position ``-1`` in the empty places.
        ``exclude``: per-query sentence ids never to return (a sentence must
        not be its own demonstration); pass one id per query, or None.
        """
        queries = np.asarray(queries, dtype=np.float32)
        nq = len(queries) if texts is None else len(texts)
        if len(self) == 0 or k <= 0:
            return np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32)
        config = as_config(retriever)
        if config.needs_texts and texts is None:
            raise ValueError(f"the {config.name} retriever needs the query texts: pass texts=")
        want = min(k + (1 if exclude is not None else 0), len(self))
        pos, sims = self.retriever(config).search(texts, queries, want)
        if exclude is None:
            return pos[:, :k], sims[:, :k]
        # One extra neighbour was fetched, so dropping the query's own id
        # still leaves k whenever the store has k others.
        keep_k = min(k, want)
        out_p = np.full((nq, keep_k), -1, np.int64)
        out_s = np.full((nq, keep_k), -np.inf, np.float32)
        for q in range(nq):
            row = [(p, s) for p, s in zip(pos[q], sims[q]) if p >= 0 and self.ids[p] != exclude[q]][:keep_k]
            for j, (p, s) in enumerate(row):
                out_p[q, j], out_s[q, j] = p, s
        if keep_k and (out_p[:, -1] < 0).all():
            out_p, out_s = out_p[:, :-1], out_s[:, :-1]
        return out_p, out_s


@runtime_checkable
class Predictor(Protocol):
    """Labels sentences using demonstrations retrieved from a :class:`DemoStore`.

    ``name`` is what the UI and CLI show (e.g. "offline kNN predictor",
    never "LLM" for the offline one); ``params()`` goes into run manifests.
    Predictors are built by name from :mod:`.registry`.
    """

    name: str
    ledger: Ledger | None
    """What its calls cost (an LLM's :class:`~.ledger.Ledger`); None for a predictor that makes no requests."""
    reads_whole_store: bool
    """Whether a prediction may depend on demonstrations beyond those retrieved
    for the sentence (then any label change can change every prediction)."""
    k: int
    """Demonstrations retrieved per sentence."""
    retriever: object
    """How they are retrieved (a :class:`~allabel_core.retrieval.RetrieverConfig`)."""

    def params(self) -> dict: ...

    def identity(self) -> dict:
        """``{"model", "base_url"}``: what the project's ledger records it as."""
        ...

    def predict(
        self,
        demos: DemoStore,
        sentences: Sequence[Sentence],
        *,
        progress: Progress | None = None,
    ) -> list[Prediction]: ...
