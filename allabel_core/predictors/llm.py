"""Entity prediction by an LLM prompted with retrieved demonstrations.

Two parts, as in spacy-llm: the *model* only talks to an endpoint (messages
in, text out; :mod:`.chat_model` is its interface and :mod:`.openai_model`
holds :class:`OpenAICompatible`, the one model class for every server); the
*task* (:class:`LlmPredictor`, here) retrieves demonstrations, renders the
versioned prompt, caches answers, parses and grounds them, and scores
uncertainty.

The model side's public names are re-exported here, so
``from allabel_core.predictors.llm import OpenAICompatible`` keeps working.

Method: METHOD.md, "Prediction with demonstration retrieval" (after Chen et
al., EMNLP 2025, ALLabel) and "Stage 3 — uncertainty".
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..data.sentence import Sentence
from ..errors import ConfigError
from ..io.scrubbing import scrub
from ..jobs import Progress
from ..retrieval import DEFAULT_RETRIEVER, as_config
from .base import DemoStore, Prediction
from .cache import LlmCache, cache_key
from .ledger import Ledger, Prices, estimate_tokens
# The model side lives in .chat_model and .openai_model; its public names
# are re-exported here so that imports from this module keep working.
from .chat_model import CallableModel, Completion, LlmRequestError, as_chat_model, run_sync  # noqa: F401
from .openai_model import DEFAULT_BASE_URL, JSON_MODES, NO_KEY, OpenAICompatible, redact_url  # noqa: F401
from .parse import empty_counts, parse_and_ground
from .prompting import PromptTemplate, schema_from

UNCERTAINTY_MODES = ("auto", "perplexity", "disagreement", "none")


def perplexity(logprobs: Sequence[float]) -> float:
    """``exp(-mean log p)`` over an answer's tokens (1 = certain)."""
    return float(math.exp(-float(np.mean(logprobs)))) if len(logprobs) else float("nan")


def disagreement(entity_sets: Sequence[frozenset]) -> float:
    """``1 - share of samples agreeing with the majority entity set``."""
    if not entity_sets:
        return float("nan")
    top = Counter(entity_sets).most_common(1)[0][1]
    return 1.0 - top / len(entity_sets)


@dataclass
class _Plan:
    """One sentence's request: its prompt, retrieved demonstrations and cache key."""

    sentence: Sentence
    messages: list[dict]
    demo_ids: tuple[str, ...]
    sims: tuple[float, ...]
    key: str
    params: dict
    cached: dict | None


@dataclass
class _Run:
    """One predict run: the bound on requests in flight, and the requests
    in flight by cache key (so repeated sentences are asked once)."""

    sem: asyncio.Semaphore
    inflight: dict = field(default_factory=dict)


class LlmPredictor:
    """Predicts entities with an LLM prompted with the ``k`` most similar
    annotated sentences (Chen et al., EMNLP 2025; METHOD.md, "Prediction with
    demonstration retrieval").

    Args:
        model: an :class:`OpenAICompatible`, anything with the same
            ``acomplete()``, or a plain callable ``fn(prompts) -> texts``.
        labels: the schema: ``{"MAT": "a material: compound, alloy, ..."}``
            or a list of names (then no definitions are shown).
        embedder: embeds query sentences for retrieval (an
            :class:`allabel_core.vectors.embed.Embedder`); unused when the store is empty.
        k: demonstrations per prompt, most similar last (nearest the query).
        retriever: how demonstrations are found: ``"hybrid"`` (default),
            ``"dense"`` (sentence vectors), ``"bm25"`` or a
            :class:`~allabel_core.retrieval.RetrieverConfig`.
        temperature: sampling temperature of the answer used as prediction.
        concurrency: requests in flight at most.
        uncertainty: ``"auto"`` (perplexity from token log-probabilities
            where the server gives them, else disagreement over samples),
            ``"perplexity"``, ``"disagreement"`` or ``"none"``.
        n_samples, sample_temperature: the sampled answers disagreement is
            measured over (seeded ``seed+1 ... seed+n``, so cached too).
        prompt_version, prompt_dir: which prompt file renders the messages.
        max_tokens: answer length limit.
        cache: an :class:`LlmCache`; None for ``<cache_dir>/llm_cache.sqlite``,
            False for none.
        ledger: a :class:`Ledger` to fill (default: a new one, with ``prices``).
        prices: a :class:`Prices` table for cost estimates.
        seed: base seed of the sampled answers.

    ``predict`` is synchronous (it runs its own event loop, in a worker thread
    when called from inside a running one, e.g. Jupyter); ``apredict`` is the
    async form. ``progress(done, total)`` is called from the thread running
    the loop.
    """

    def __init__(
        self,
        model,
        labels: Mapping[str, str] | Sequence[str],
        *,
        embedder=None,
        k: int = 5,
        retriever=DEFAULT_RETRIEVER,
        temperature: float = 0.0,
        concurrency: int = 4,
        uncertainty: str = "auto",
        n_samples: int = 5,
        sample_temperature: float = 0.7,
        prompt_version: str = "ner.v1",
        prompt_dir: str | None = None,
        max_tokens: int = 256,
        cache: LlmCache | bool | None = None,
        ledger: Ledger | None = None,
        prices: Prices | None = None,
        seed: int = 0,
    ):
        if k < 0:
            raise ConfigError(f"k must not be negative, got {k}")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if uncertainty not in UNCERTAINTY_MODES:
            raise ConfigError(f"uncertainty must be one of {', '.join(UNCERTAINTY_MODES)}, got {uncertainty!r}")
        if uncertainty == "disagreement" and n_samples < 2:
            raise ConfigError("disagreement needs n_samples of at least 2")
        if temperature < 0 or sample_temperature <= 0:
            raise ConfigError("temperature must not be negative, sample_temperature must be positive")
        self.model = as_chat_model(model)
        self.types = schema_from(labels)
        self.embedder = embedder
        self.k = int(k)
        self.retriever = as_config(retriever)
        self.temperature = float(temperature)
        self.concurrency = int(concurrency)
        self.uncertainty = uncertainty
        self.n_samples = int(n_samples)
        self.sample_temperature = float(sample_temperature)
        self.template = PromptTemplate(prompt_version, prompt_dir)
        self.prompt_version = prompt_version
        self.max_tokens = int(max_tokens)
        self.cache: LlmCache | None = LlmCache() if cache is None or cache is True else (None if cache is False else cache)
        self.ledger = ledger if ledger is not None else Ledger(prices)
        if prices is not None and self.ledger.prices is None:
            self.ledger.prices = prices
        self.seed = int(seed)
        self.last_run: dict = {}

    @property
    def name(self) -> str:
        return f"LLM: {self.model.describe()}"

    @property
    def labels(self) -> list[str]:
        return [t.name for t in self.types]

    # The prompt holds the retrieved demonstrations and nothing else of the store.
    reads_whole_store = False

    def identity(self) -> dict:
        return self.model.identity()

    def params(self) -> dict:
        ident = self.model.identity()
        return {
            "predictor": "llm",
            "base_url": ident["base_url"],
            "model": ident["model"],
            "prompt_version": self.prompt_version,
            "labels": {t.name: t.description for t in self.types},
            "embedder": None if self.embedder is None else self.embedder.name,
            "k": self.k,
            **self.retriever.params(),
            "temperature": self.temperature,
            "concurrency": self.concurrency,
            "uncertainty": self.uncertainty,
            "n_samples": self.n_samples,
            "sample_temperature": self.sample_temperature,
            "max_tokens": self.max_tokens,
            "json_mode": self._json_mode(),
            "seed": self.seed,
            "cache": str(self.cache.path) if self.cache is not None else None,
        }

    def _json_mode(self) -> bool:
        return bool(self.model.wants_json)

    def _wants_logprobs(self) -> bool:
        return self.uncertainty in ("auto", "perplexity")

    def _request_params(self, sample: int | None) -> dict:
        return {
            "temperature": self.temperature if sample is None else self.sample_temperature,
            "max_tokens": self.max_tokens,
            "json_mode": self._json_mode(),
            "logprobs": self._wants_logprobs() and sample is None,
            "seed": None if sample is None else self.seed + 1 + sample,
        }

    def _key(self, messages, params) -> str:
        ident = self.model.identity()
        return cache_key(
            base_url=ident["base_url"],
            model=ident["model"],
            prompt_version=self.prompt_version,
            messages=messages,
            params=params,
        )

    # -- planning ------------------------------------------------------------
    def render(self, demos: DemoStore, sentences: Sequence[Sentence]) -> list[_Plan]:
        """Retrieve demonstrations and render each sentence's messages (no calls)."""
        ids = [s.id for s in sentences]
        if len(demos) and self.k:
            if self.embedder is None and self.retriever.name != "bm25":
                raise ConfigError(f"the LLM predictor needs an embedder to retrieve demonstrations with {self.retriever.name}")
            qvecs = (np.zeros((len(sentences), 0), np.float32) if self.embedder is None
                     else self.embedder.encode([s.text for s in sentences]))
            # k+1 then drop the query itself: DemoStore.retrieve(exclude=)
            # returns at most len(store)-1 even when the query is not stored.
            positions, sims = demos.retrieve(qvecs, self.k + 1, texts=[s.text for s in sentences], retriever=self.retriever)
            store_ids = np.asarray(demos.ids, dtype=object)
            keep = (positions >= 0) & (store_ids[np.maximum(positions, 0)] != np.asarray(ids, dtype=object)[:, None])
            positions = [positions[q][keep[q]][: self.k] for q in range(len(ids))]
            sims = [sims[q][keep[q]][: self.k] for q in range(len(ids))]
        else:
            positions = np.zeros((len(sentences), 0), np.int64)
            sims = np.zeros((len(sentences), 0), np.float32)
        fmt = "object" if self._json_mode() else "list"
        params = self._request_params(None)
        plans = []
        for q, sentence in enumerate(sentences):
            row = [(int(p), float(s)) for p, s in zip(positions[q], sims[q]) if p >= 0][::-1]
            chosen = [demos.sentences[p] for p, _ in row]
            messages = self.template.render(self.types, chosen, sentence, answer_format=fmt)
            key = self._key(messages, params)
            cached = self.cache.get(key) if self.cache is not None else None
            plans.append(
                _Plan(sentence, messages, tuple(demos.ids[p] for p, _ in row), tuple(s for _, s in row), key, params, cached)
            )
        return plans

    def estimate(self, plans: Sequence[_Plan]) -> dict:
        """Tokens (and cost, with prices) of the requests not yet cached;
        recorded in the ledger as the run's estimate."""
        todo = [p for p in plans if p.cached is None]
        prompt = sum(estimate_tokens(m["content"]) for p in todo for m in p.messages)
        answers = [estimate_tokens(m["content"]) for p in plans for m in p.messages if m["role"] == "assistant"]
        per_answer = int(np.mean(answers)) + 1 if answers else 32
        requests = len(todo)
        supports = self.model.supports
        if self.uncertainty == "disagreement" or (self.uncertainty == "auto" and supports.get("logprobs") is False):
            requests += self.n_samples * len(todo)
            prompt *= 1 + self.n_samples
        return self.ledger.record_estimate(
            requests=requests, prompt_tokens=prompt, completion_tokens=per_answer * requests
        )

    # -- running -------------------------------------------------------------
    def predict(
        self, demos: DemoStore, sentences: Sequence[Sentence], *, progress: Progress | None = None,
        ask: Collection[str] | None = None,
    ) -> list[Prediction]:
        """One :class:`Prediction` per sentence, in order, each with its
        ``outcome``. A sentence whose request failed has ``error`` set and no
        spans; only answers that were read (outcome ``ok``) are cached, so
        running again asks exactly the others (or use :meth:`retry_failed`).

        ``ask``: the ids of the sentences that may be sent to the server; the
        others are answered from the cache only (one without a cached answer
        fails with kind ``not_cached``). None: all may be sent."""
        return run_sync(lambda: self.apredict(demos, sentences, progress=progress, ask=ask))

    def retry_failed(
        self, demos: DemoStore, sentences: Sequence[Sentence], predictions: Sequence[Prediction], *, progress: Progress | None = None
    ) -> list[Prediction]:
        """``predictions`` with the ones that did not succeed (failed,
        truncated, unparseable) predicted again."""
        redo = {p.sentence_id for p in predictions if not p.succeeded}
        again = {p.sentence_id: p for p in self.predict(demos, [s for s in sentences if s.id in redo], progress=progress)}
        return [again.get(p.sentence_id, p) for p in predictions]

    async def apredict(
        self, demos: DemoStore, sentences: Sequence[Sentence], *, progress: Progress | None = None,
        ask: Collection[str] | None = None,
    ) -> list[Prediction]:
        sentences = list(sentences)
        n = len(sentences)
        if n == 0:
            return []
        plans = self.render(demos, sentences)
        allowed = None if ask is None else set(ask)
        self.estimate([p for p in plans if allowed is None or p.sentence.id in allowed])
        run = _Run(asyncio.Semaphore(self.concurrency))
        done = 0
        stats = Counter()

        async def one(plan: _Plan) -> Prediction:
            nonlocal done
            may_ask = allowed is None or plan.sentence.id in allowed
            pred = await self._predict_one(plan, run, may_ask)
            stats.update(pred.details.get("parse", {}))
            stats["errors"] += pred.error is not None
            stats["cached"] += bool(pred.details.get("cached"))
            stats[f"outcome_{pred.outcome}"] += 1
            self.ledger.record_outcome(pred.outcome)
            done += 1
            if progress:
                progress(done, n)
            return pred

        t0 = time.perf_counter()
        try:
            out = await asyncio.gather(*(one(p) for p in plans))
        finally:
            await self.model.aclose()
        self.last_run = {"sentences": n, "seconds": round(time.perf_counter() - t0, 3), **{k: stats[k] for k in sorted(stats)}}
        return list(out)

    async def _ask(
        self, messages, params: dict, key: str, cached: dict | None, run: _Run, may_ask: bool = True, *, fresh: bool = False
    ) -> Completion:
        """The answer to one request: from the cache (unless ``fresh``), from
        the same request already in flight, or from the server."""
        if not fresh:
            if cached is None and self.cache is not None:
                cached = self.cache.get(key)
            if cached is not None:
                self.ledger.record_cache_hit()
                return Completion.from_payload(cached)
        pending = run.inflight.get(key)
        if pending is not None and not (fresh and pending.done()):
            # The same request is already on its way (a repeated sentence):
            # share its answer rather than pay twice.
            self.ledger.record_cache_hit()
            return replace(await pending, cached=True)
        if not may_ask:
            raise LlmRequestError(
                "no cached answer for this sentence, and it was not to be asked again "
                "(only the sentences that did not succeed were)", kind="not_cached",
            )
        pending = run.inflight[key] = asyncio.ensure_future(self._fetch(messages, params, run.sem))
        return await pending

    async def _fetch(self, messages, params: dict, sem: asyncio.Semaphore) -> Completion:
        async with sem:
            return await self.model.acomplete(
                messages,
                temperature=params["temperature"],
                max_tokens=params["max_tokens"],
                json_mode=params["json_mode"],
                logprobs=params["logprobs"],
                seed=params["seed"],
                ledger=self.ledger,
            )

    def _store(self, keys: Sequence[str], completion: Completion) -> None:
        """Cache an answer that was read under ``keys`` (never an error, a
        cut or an unreadable one: those are asked again next time)."""
        if self.cache is None:
            return
        ident = self.model.identity()
        for key in keys:
            self.cache.put(
                key, completion.to_payload(), base_url=ident["base_url"], model=ident["model"], prompt_version=self.prompt_version
            )

    def _read(self, c: Completion, sentence: Sentence):
        """``(parsed, grounding, outcome)`` of one answer."""
        parsed, g = parse_and_ground(c.text, sentence, self.labels)
        cut = c.finish_reason == "length" or parsed.cut
        g.counts["truncated"] = int(cut)
        outcome = "truncated" if cut else ("ok" if parsed.ok else "unparseable")
        return parsed, g, outcome

    async def _predict_one(self, plan: _Plan, run: _Run, may_ask: bool = True) -> Prediction:
        s = plan.sentence
        details: dict = {"messages": plan.messages, "prompt_version": self.prompt_version}
        try:
            c = await self._ask(plan.messages, plan.params, plan.key, plan.cached, run, may_ask)
            parsed, g, outcome = self._read(c, s)
            if c.cached and outcome != "ok" and may_ask:
                # Cached by an older version that kept every answer: ask anew.
                c = await self._ask(plan.messages, plan.params, plan.key, None, run, may_ask, fresh=True)
                parsed, g, outcome = self._read(c, s)
            keys = [] if c.cached else [plan.key]
            if outcome == "truncated":
                # Cut short: once more with room to finish. The longer answer
                # is cached under both requests, so a rerun is free.
                params = dict(plan.params, max_tokens=2 * int(plan.params["max_tokens"]))
                details["first_answer"] = {"raw": c.text, "finish_reason": c.finish_reason, "max_tokens": plan.params["max_tokens"]}
                try:
                    c2 = await self._ask(plan.messages, params, self._key(plan.messages, params), None, run, may_ask)
                except LlmRequestError as exc:
                    details["retry_error"] = scrub(str(exc))
                else:
                    c = c2
                    parsed, g, outcome = self._read(c, s)
                    # Under the first request too, so a rerun is free.
                    keys = [plan.key] + ([] if c.cached else [self._key(plan.messages, params)])
        except LlmRequestError as exc:
            details["error_kind"] = exc.kind
            details["outcome"] = "failed"
            return Prediction(
                s.id, (), float("nan"), "none", plan.demo_ids, plan.sims, error=scrub(str(exc)),
                details=scrub(details), outcome="failed", error_kind=exc.kind,
            )
        self.ledger.record_parse(g.counts)
        details.update(
            raw=c.text,
            parse=g.counts,
            parse_problem=parsed.problem,
            dropped=g.dropped,
            cached=c.cached,
            latency=round(c.latency, 4),
            tokens={"prompt": c.prompt_tokens, "completion": c.completion_tokens},
            finish_reason=c.finish_reason,
            outcome=outcome,
        )
        if outcome != "ok":
            value, kind = float("nan"), "none"
            details["uncertainty_note"] = f"no uncertainty for an answer that is {outcome}"
        else:
            self._store(keys, c)
            value, kind = await self._uncertainty(plan, c, g.spans, run, details, may_ask)
        return Prediction(
            s.id, tuple(g.spans), value, kind, plan.demo_ids, plan.sims, details=scrub(details), outcome=outcome
        )

    async def _uncertainty(self, plan: _Plan, c: Completion, spans, run: _Run, details: dict, may_ask: bool = True) -> tuple[float, str]:
        if self.uncertainty == "none":
            return float("nan"), "none"
        if self.uncertainty in ("auto", "perplexity") and c.logprobs:
            details["answer_tokens"] = len(c.logprobs)
            return perplexity(c.logprobs), "perplexity"
        if self.uncertainty == "perplexity" or self.n_samples < 2:
            details["uncertainty_note"] = "the server returned no token log-probabilities"
            return float("nan"), self.uncertainty if self.uncertainty == "perplexity" else "none"
        sample_counts = empty_counts()

        async def sample(j: int):
            params = self._request_params(j)
            key = self._key(plan.messages, params)
            try:
                sc = await self._ask(plan.messages, params, key, None, run, may_ask)
            except LlmRequestError as exc:
                return exc
            _, sg, outcome = self._read(sc, plan.sentence)
            for name, v in sg.counts.items():
                sample_counts[name] += v
            if outcome != "ok":
                return outcome  # a cut or unreadable sample says nothing about agreement
            if not sc.cached:
                self._store([key], sc)
            return frozenset(sp.key() for sp in sg.spans)

        results = await asyncio.gather(*(sample(j) for j in range(self.n_samples)))
        sets = [r for r in results if isinstance(r, frozenset)]
        failed = [r for r in results if isinstance(r, LlmRequestError)]
        unread = [r for r in results if isinstance(r, str)]
        details["samples"] = {"n": self.n_samples, "answered": len(sets), "parse": sample_counts}
        details["samples"]["agree_with_prediction"] = sum(st == frozenset(sp.key() for sp in spans) for st in sets)
        if len(sets) < 2:
            details["uncertainty_note"] = f"{len(failed) + len(unread)} of {self.n_samples} samples failed or were unreadable" + (
                f": {failed[0]}" if failed else ""
            )
            return float("nan"), "disagreement"
        return disagreement(sets), "disagreement"


def with_suggestions(sentence: Sentence, prediction: Prediction) -> Sentence:
    """``sentence`` with the prediction's spans (status suggested) in place
    of its own, e.g. to write BIO tags or score against gold."""
    return sentence.with_spans([replace(sp, status="suggested") for sp in prediction.spans], status="suggested")
