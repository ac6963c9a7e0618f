"""Entity prediction by an LLM prompted with retrieved demonstrations.

Two parts, as in spacy-llm: the *model* only talks to an endpoint (messages
in, text out); the *task* (:class:`LlmPredictor`) retrieves demonstrations,
renders the versioned prompt, caches answers, parses and grounds them, and
scores uncertainty.

:class:`OpenAICompatible` is the one model class for every server that speaks
OpenAI chat completions (OpenAI, vLLM, Ollama, llama.cpp's server, ...). It is
configured by ``base_url``, ``model`` and ``api_key``, and the ``base_url``
given is the one used. The key lives only in memory: it is not in the cache
key, the ledger, ``repr()``, nor any error message.

Method: METHOD.md, "Prediction with demonstration retrieval" (after Chen et
al., EMNLP 2025, ALLabel) and "Stage 3 — uncertainty".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import math
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import ConfigError, PredictorError
from ..ledger import Ledger, Prices, estimate_tokens
from ..llm_cache import LlmCache, cache_key
from ..sentence import Sentence
from .base import DemoStore, Prediction, Progress
from .parse import empty_counts, parse_and_ground
from .prompting import PromptTemplate, schema_from

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers want a non-empty key and ignore it
UNCERTAINTY_MODES = ("auto", "perplexity", "disagreement", "none")
JSON_MODES = ("auto", True, False)


class LlmRequestError(PredictorError):
    """A request to the LLM endpoint failed (after any retries).

    ``kind``: ``connection``, ``timeout``, ``rate_limit``, ``server_error``,
    ``bad_request``, ``auth``, ``not_found``, ``bad_response`` or ``other``.
    The message never contains the API key.
    """

    def __init__(self, message: str, *, kind: str = "other", status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class Completion:
    """One answer: its text, token counts and (if the server gave them) the
    log-probabilities of the answer's tokens. ``json_mode`` and
    ``logprobs_requested`` say what the request that produced it asked for."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: tuple[float, ...] | None = None
    finish_reason: str | None = None
    latency: float = 0.0
    json_mode: bool = False
    logprobs_requested: bool = False
    cached: bool = False

    def to_payload(self) -> dict:
        return {
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "logprobs": list(self.logprobs) if self.logprobs is not None else None,
            "finish_reason": self.finish_reason,
            "latency": self.latency,
            "json_mode": self.json_mode,
            "logprobs_requested": self.logprobs_requested,
        }

    @classmethod
    def from_payload(cls, p: Mapping) -> Completion:
        lp = p.get("logprobs")
        return cls(
            text=p.get("text") or "",
            prompt_tokens=int(p.get("prompt_tokens") or 0),
            completion_tokens=int(p.get("completion_tokens") or 0),
            logprobs=tuple(lp) if lp is not None else None,
            finish_reason=p.get("finish_reason"),
            latency=float(p.get("latency") or 0.0),
            json_mode=bool(p.get("json_mode")),
            logprobs_requested=bool(p.get("logprobs_requested")),
            cached=True,
        )


class _Secret:
    """Holds the API key so that no repr, log or pickle shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not pickled")


def redact_url(url: str) -> str:
    """``url`` without user:password (shown, logged and cached instead of it)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts).rstrip("/")


def _retry_after(response) -> float | None:
    """Seconds a 429/503 asks us to wait (``retry-after-ms``, ``retry-after``
    as seconds or an HTTP date), or None."""
    if response is None:
        return None
    headers = response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


# What endpoints were seen to accept ((base_url, model) -> feature -> bool):
# facts about servers, learnt once per process and shared by every
# OpenAICompatible pointed at the same one.
_ENDPOINTS: dict[tuple[str, str], dict[str, bool]] = {}
_ENDPOINTS_LOCK = threading.Lock()


class _LoopState:
    """A client and a capability-probe lock bound to one event loop."""

    def __init__(self, client):
        self.client = client
        self.probe = asyncio.Lock()


class OpenAICompatible:
    """A chat model behind any OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1``; default
            ``$OPENAI_BASE_URL``, else OpenAI's.
        model: the model name the server knows.
        api_key: default ``$OPENAI_API_KEY``, else ``"not-needed"`` (local
            servers want a non-empty key and ignore it).
        timeout: seconds per request.
        max_retries: further attempts after a 429, 5xx, timeout, connection
            error or unreadable response; the client's own retries are off,
            so every attempt is counted in the ledger.
        backoff, max_backoff: exponential backoff ``backoff * 2**attempt``
            (with jitter), capped; a server's Retry-After wins, capped too.
        json_mode: ``"auto"`` asks for ``response_format={"type":
            "json_object"}`` and drops it for good if the server answers 400
            to it; ``True`` always asks; ``False`` never.
        logprobs: ``"auto"``/``True``/``False``, likewise for token log-probabilities.
        max_tokens: the answer's length limit.
        rng: a ``random.Random`` for the jitter (seed it in tests).

    Calling the model, ``model(prompts)``, takes a list of message lists
    and returns the answer texts; :meth:`acomplete` is the async form that
    :class:`LlmPredictor` uses.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        json_mode: str | bool = "auto",
        logprobs: str | bool = "auto",
        max_tokens: int = 512,
        rng: random.Random | None = None,
    ):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not model:
            raise ConfigError("an OpenAI-compatible model needs a model name (e.g. --model gpt-4o-mini)")
        if json_mode not in JSON_MODES or logprobs not in JSON_MODES:
            raise ConfigError("json_mode and logprobs must be 'auto', True or False")
        if timeout <= 0 or max_retries < 0 or backoff < 0 or max_tokens < 1:
            raise ConfigError("timeout and max_tokens must be positive, max_retries and backoff not negative")
        self._base_url = base_url.rstrip("/")
        self.base_url = redact_url(self._base_url)
        self.model = model
        self._key = _Secret(api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.json_mode = json_mode
        self.logprobs = logprobs
        self.max_tokens = int(max_tokens)
        self._rng = rng or random.Random()
        # What this endpoint was seen to accept: None unknown, True, False.
        # "auto" features start from what this process already learnt about
        # the same endpoint, so a refused feature costs one 400 per process.
        with _ENDPOINTS_LOCK:
            known = dict(_ENDPOINTS.get((self.base_url, model), {}))
        self.supports: dict[str, bool | None] = {
            "json_mode": known.get("json_mode") if json_mode == "auto" else bool(json_mode),
            "logprobs": known.get("logprobs") if logprobs == "auto" else bool(logprobs),
        }
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _learn(self, feature: str, accepted: bool) -> None:
        self.supports[feature] = accepted
        with _ENDPOINTS_LOCK:
            _ENDPOINTS.setdefault((self.base_url, self.model), {})[feature] = accepted

    # -- identity ------------------------------------------------------------
    def describe(self) -> str:
        """``"<model> at <base_url>"``: what logs and the UI show."""
        return f"{self.model} at {self.base_url}"

    def identity(self) -> dict:
        """What distinguishes this model's answers in the cache (no key)."""
        return {"base_url": self.base_url, "model": self.model}

    @property
    def wants_json(self) -> bool:
        """Whether requests ask for JSON mode (so prompts ask for an object)."""
        return self.json_mode is not False

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout})"

    def _scrub(self, text: str) -> str:
        key = self._key.reveal()
        if key and key != NO_KEY and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    # -- clients -------------------------------------------------------------
    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                from openai import AsyncOpenAI

                client = AsyncOpenAI(
                    api_key=self._key.reveal(), base_url=self._base_url, timeout=self.timeout, max_retries=0
                )
                state = self._loops[loop] = _LoopState(client)
        return state

    async def aclose(self) -> None:
        """Close this event loop's HTTP client (the predictor does, after a run)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
        if state is not None:
            await state.client.close()

    # -- requests ------------------------------------------------------------
    def _features(self, json_mode: bool | None, logprobs: bool | None) -> set[str]:
        want = set()
        if (self.json_mode is not False if json_mode is None else json_mode) and self.supports["json_mode"] is not False:
            want.add("json_mode")
        if (self.logprobs is not False if logprobs is None else logprobs) and self.supports["logprobs"] is not False:
            want.add("logprobs")
        return want

    def _kwargs(self, messages, features: set[str], temperature: float, max_tokens: int | None, seed: int | None) -> dict:
        kw = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "temperature": float(temperature),
            "max_tokens": int(max_tokens or self.max_tokens),
        }
        if seed is not None:
            kw["seed"] = int(seed)
        if "json_mode" in features:
            kw["response_format"] = {"type": "json_object"}
        if "logprobs" in features:
            # llama-cpp-python returns log-probabilities only when
            # top_logprobs is given too; 0 asks for no alternatives.
            kw["logprobs"] = True
            kw["top_logprobs"] = 0
        return kw

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after) * (1 + 0.1 * self._rng.random())
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + 0.5 * self._rng.random())

    def _classify(self, exc: Exception) -> tuple[str, bool, int | None, float | None]:
        """(kind, retryable, status, retry_after) of an openai exception."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return "timeout", True, None, None
        if isinstance(exc, openai.APIConnectionError):
            return "connection", True, None, None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            after = _retry_after(exc.response)
            if status == 429:
                return "rate_limit", True, status, after
            if status >= 500 or status in (408, 409):
                return "server_error", True, status, after
            if status in (401, 403):
                return "auth", False, status, None
            if status == 404:
                return "not_found", False, status, None
            if status in (400, 422):
                return "bad_request", False, status, None
            return "other", False, status, None
        if isinstance(exc, (openai.APIResponseValidationError, ValueError, TypeError, KeyError, AttributeError)):
            return "bad_response", True, None, None
        if isinstance(exc, openai.OpenAIError):
            return "other", False, None, None
        return "bug", False, None, None

    def _message(self, kind: str, exc: Exception, status: int | None) -> str:
        where = self.base_url
        if kind == "connection":
            cause = exc.__cause__ or exc.__context__
            if cause is None or type(cause).__name__ in ("ConnectError", "ConnectTimeout"):
                return f"could not reach {where}: is the server running?"
            return self._scrub(f"the connection to {where} broke: {' '.join(str(cause).split())[:200]}")
        if kind == "timeout":
            return f"{where} did not answer within {self.timeout:g} s"
        if kind == "auth":
            return f"{where} refused the API key (HTTP {status}): check OPENAI_API_KEY or --api-key"
        if kind == "not_found":
            return f"{where} has no model {self.model!r} or no chat completions endpoint (HTTP 404)"
        detail = getattr(exc, "message", None) or str(exc)
        detail = " ".join(str(detail).split())[:300]
        prefix = f"HTTP {status} from {where}" if status else f"unusable answer from {where}"
        return self._scrub(f"{prefix}: {detail}")

    async def acomplete(
        self,
        messages: Sequence[Mapping],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        json_mode: bool | None = None,
        logprobs: bool | None = None,
        seed: int | None = None,
        ledger: Ledger | None = None,
    ) -> Completion:
        """Ask for one answer, retrying as configured. ``json_mode`` /
        ``logprobs`` (None: the model's setting) request those features
        where the endpoint has not refused them. Raises :class:`LlmRequestError`."""
        state = self._state()
        features = self._features(json_mode, logprobs)
        if any(self.supports[f] is None for f in features):
            # The first request finds out what the endpoint accepts; the
            # others wait, so a refused feature costs one 400, not one each.
            async with state.probe:
                return await self._attempts(state, messages, self._features(json_mode, logprobs), temperature, max_tokens, seed, ledger)
        return await self._attempts(state, messages, features, temperature, max_tokens, seed, ledger)

    async def _attempts(self, state, messages, features, temperature, max_tokens, seed, ledger) -> Completion:
        attempt = 0
        stripped: set[str] = set()
        while True:
            kwargs = self._kwargs(messages, features, temperature, max_tokens, seed)
            t0 = time.perf_counter()
            try:
                resp = await state.client.chat.completions.create(**kwargs)
                completion = self._completion(resp, time.perf_counter() - t0, features)
            except Exception as exc:  # classified below; unknown kinds re-raise
                latency = time.perf_counter() - t0
                kind, retryable, status, after = self._classify(exc)
                if kind == "bug":
                    raise
                unconfirmed = [f for f in ("json_mode", "logprobs") if f in features and self.supports[f] is not True]
                if kind == "bad_request" and unconfirmed:
                    # Perhaps the endpoint does not take JSON mode (or
                    # logprobs): ask again without it, one feature at a
                    # time, and if that works, remember.
                    if ledger:
                        ledger.record_error(kind, latency=latency, retried=True)
                    stripped.add(unconfirmed[0])
                    features = features - {unconfirmed[0]}
                    continue
                again = retryable and attempt < self.max_retries
                if ledger:
                    ledger.record_error(kind, latency=latency, retried=again)
                if not again:
                    raise LlmRequestError(self._message(kind, exc, status), kind=kind, status=status) from None
                await asyncio.sleep(self._delay(attempt, after))
                attempt += 1
                continue
            for f in features:
                self._learn(f, True)
            for f in stripped:
                if self.supports[f] is not False:
                    self._learn(f, False)
                    if ledger:
                        ledger.record_fallback(f)
            if ledger:
                ledger.record_call(
                    latency=completion.latency,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                )
            return completion

    @staticmethod
    def _completion(resp, latency: float, features: set[str]) -> Completion:
        if isinstance(resp, (str, bytes)) or not getattr(resp, "choices", None):
            raise ValueError("the response has no choices")
        choice = resp.choices[0]
        text = choice.message.content if choice.message is not None else None
        if text is None:
            text = ""
        logprobs = None
        lp = getattr(choice, "logprobs", None)
        content = getattr(lp, "content", None) if lp is not None else None
        if content:
            logprobs = tuple(float(t.logprob) for t in content if t.logprob is not None and math.isfinite(t.logprob))
        usage = getattr(resp, "usage", None)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            logprobs=logprobs or None,
            finish_reason=getattr(choice, "finish_reason", None),
            latency=latency,
            json_mode="json_mode" in features,
            logprobs_requested="logprobs" in features,
        )

    def __call__(self, prompts: Sequence[Sequence[Mapping]], *, concurrency: int = 4, **params) -> list[str]:
        """Answer texts for a list of message lists (in order); a failed one
        raises. For per-item errors, caching and parsing use :class:`LlmPredictor`."""

        async def run():
            sem = asyncio.Semaphore(max(1, concurrency))

            async def one(messages):
                async with sem:
                    return (await self.acomplete(messages, **params)).text

            try:
                return await asyncio.gather(*(one(m) for m in prompts))
            finally:
                await self.aclose()

        return list(run_sync(run))

    def check(self, timeout: float = 5.0) -> list[str]:
        """The model names the endpoint lists (GET /models); raises
        :class:`LlmRequestError` with a one-line reason when unreachable."""

        async def run():
            try:
                page = await self._state().client.models.list(timeout=timeout)
                return [m.id for m in page.data]
            except Exception as exc:
                kind, _, status, _ = self._classify(exc)
                raise LlmRequestError(self._message(kind, exc, status), kind=kind, status=status) from None
            finally:
                await self.aclose()

        return run_sync(run)


class CallableModel:
    """Adapts a plain callable ``fn(list_of_message_lists) -> list[str]``
    (a fake with recorded answers, say) to the model interface."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.model = name or getattr(fn, "name", None) or getattr(fn, "__qualname__", type(fn).__name__)
        self.base_url = "local:callable"

    def describe(self) -> str:
        return f"{self.model} (in-process)"

    def identity(self) -> dict:
        return {"base_url": self.base_url, "model": self.model}

    async def acomplete(self, messages, *, ledger: Ledger | None = None, **_params) -> Completion:
        t0 = time.perf_counter()
        text = (await asyncio.to_thread(self.fn, [list(messages)]))[0]
        completion = Completion(text=text or "", latency=time.perf_counter() - t0)
        if ledger:
            ledger.record_call(latency=completion.latency)
        return completion


def as_chat_model(model):
    """``model`` if it has ``acomplete``; a plain callable wrapped in
    :class:`CallableModel`."""
    if hasattr(model, "acomplete"):
        return model
    if callable(model):
        return CallableModel(model)
    raise ConfigError(f"{model!r} is not a chat model (needs acomplete() or to be callable)")


def run_sync(coro_factory: Callable):
    """Run ``coro_factory()`` to completion from synchronous code, also when
    called inside a running event loop (Jupyter): then in a worker thread
    with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="allabel-llm") as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


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
            :class:`allabel_core.embed.Embedder`); unused when the store is empty.
        k: demonstrations per prompt, most similar last (nearest the query).
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

    def params(self) -> dict:
        ident = self.model.identity()
        return {
            "predictor": "llm",
            "base_url": ident["base_url"],
            "model": ident["model"],
            "prompt_version": self.prompt_version,
            "labels": {t.name: t.definition for t in self.types},
            "embedder": getattr(self.embedder, "name", None),
            "k": self.k,
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
        return bool(getattr(self.model, "wants_json", False))

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
            if self.embedder is None:
                raise ConfigError("the LLM predictor needs an embedder to retrieve demonstrations")
            qvecs = self.embedder.encode([s.text for s in sentences])
            # k+1 then drop the query itself: DemoStore.retrieve(exclude=)
            # returns at most len(store)-1 even when the query is not stored.
            positions, sims = demos.retrieve(qvecs, self.k + 1)
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
        supports = getattr(self.model, "supports", {})
        if self.uncertainty == "disagreement" or (self.uncertainty == "auto" and supports.get("logprobs") is False):
            requests += self.n_samples * len(todo)
            prompt *= 1 + self.n_samples
        return self.ledger.record_estimate(
            requests=requests, prompt_tokens=prompt, completion_tokens=per_answer * requests
        )

    # -- running -------------------------------------------------------------
    def predict(self, demos: DemoStore, sentences: Sequence[Sentence], *, progress: Progress | None = None) -> list[Prediction]:
        """One :class:`Prediction` per sentence, in order. A sentence whose
        request failed has ``error`` set and no spans; run again (answers
        given are cached) or use :meth:`retry_failed`."""
        return run_sync(lambda: self.apredict(demos, sentences, progress=progress))

    def retry_failed(
        self, demos: DemoStore, sentences: Sequence[Sentence], predictions: Sequence[Prediction], *, progress: Progress | None = None
    ) -> list[Prediction]:
        """``predictions`` with the failed ones predicted again."""
        failed = {p.sentence_id for p in predictions if p.error}
        again = {p.sentence_id: p for p in self.predict(demos, [s for s in sentences if s.id in failed], progress=progress)}
        return [again.get(p.sentence_id, p) for p in predictions]

    async def apredict(
        self, demos: DemoStore, sentences: Sequence[Sentence], *, progress: Progress | None = None
    ) -> list[Prediction]:
        sentences = list(sentences)
        n = len(sentences)
        if n == 0:
            return []
        plans = self.render(demos, sentences)
        self.estimate(plans)
        run = _Run(asyncio.Semaphore(self.concurrency))
        done = 0
        stats = Counter()

        async def one(plan: _Plan) -> Prediction:
            nonlocal done
            pred = await self._predict_one(plan, run)
            stats.update(pred.details.get("parse", {}))
            stats["errors"] += pred.error is not None
            stats["cached"] += bool(pred.details.get("cached"))
            done += 1
            if progress:
                progress(done, n)
            return pred

        t0 = time.perf_counter()
        try:
            out = await asyncio.gather(*(one(p) for p in plans))
        finally:
            closer = getattr(self.model, "aclose", None)
            if closer:
                await closer()
        self.last_run = {"sentences": n, "seconds": round(time.perf_counter() - t0, 3), **{k: stats[k] for k in sorted(stats)}}
        return list(out)

    async def _ask(self, messages, params: dict, key: str, cached: dict | None, run: _Run) -> Completion:
        if cached is None and self.cache is not None:
            cached = self.cache.get(key)
        if cached is not None:
            self.ledger.record_cache_hit()
            return Completion.from_payload(cached)
        pending = run.inflight.get(key)
        if pending is not None:
            # The same request is already on its way (a repeated sentence):
            # share its answer rather than pay twice.
            self.ledger.record_cache_hit()
            return replace(await pending, cached=True)
        pending = run.inflight[key] = asyncio.ensure_future(self._fetch(messages, params, key, run.sem))
        return await pending

    async def _fetch(self, messages, params: dict, key: str, sem: asyncio.Semaphore) -> Completion:
        async with sem:
            completion = await self.model.acomplete(
                messages,
                temperature=params["temperature"],
                max_tokens=params["max_tokens"],
                json_mode=params["json_mode"],
                logprobs=params["logprobs"],
                seed=params["seed"],
                ledger=self.ledger,
            )
        if self.cache is not None:
            ident = self.model.identity()
            self.cache.put(
                key, completion.to_payload(), base_url=ident["base_url"], model=ident["model"], prompt_version=self.prompt_version
            )
        return completion

    async def _predict_one(self, plan: _Plan, run: _Run) -> Prediction:
        s = plan.sentence
        details: dict = {"messages": plan.messages, "prompt_version": self.prompt_version}
        try:
            c = await self._ask(plan.messages, plan.params, plan.key, plan.cached, run)
        except LlmRequestError as exc:
            details["error_kind"] = exc.kind
            return Prediction(s.id, (), float("nan"), "none", plan.demo_ids, plan.sims, error=str(exc), details=details)
        parsed, g = parse_and_ground(c.text, s, self.labels)
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
        )
        value, kind = await self._uncertainty(plan, c, g.spans, run, details)
        return Prediction(s.id, tuple(g.spans), value, kind, plan.demo_ids, plan.sims, details=details)

    async def _uncertainty(self, plan: _Plan, c: Completion, spans, run: _Run, details: dict) -> tuple[float, str]:
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
            try:
                sc = await self._ask(plan.messages, params, self._key(plan.messages, params), None, run)
            except LlmRequestError as exc:
                return exc
            _, sg = parse_and_ground(sc.text, plan.sentence, self.labels)
            for key, v in sg.counts.items():
                sample_counts[key] += v
            return frozenset(sp.key() for sp in sg.spans)

        results = await asyncio.gather(*(sample(j) for j in range(self.n_samples)))
        sets = [r for r in results if isinstance(r, frozenset)]
        failed = [r for r in results if isinstance(r, LlmRequestError)]
        details["samples"] = {"n": self.n_samples, "answered": len(sets), "parse": sample_counts}
        details["samples"]["agree_with_prediction"] = sum(st == frozenset(sp.key() for sp in spans) for st in sets)
        if len(sets) < 2:
            details["uncertainty_note"] = f"{len(failed)} of {self.n_samples} samples failed" + (
                f": {failed[0]}" if failed else ""
            )
            return float("nan"), "disagreement"
        return disagreement(sets), "disagreement"


def with_suggestions(sentence: Sentence, prediction: Prediction) -> Sentence:
    """``sentence`` with the prediction's spans (status suggested) in place
    of its own, e.g. to write BIO tags or score against gold."""
    return sentence.with_spans([replace(sp, status="suggested") for sp in prediction.spans], status="suggested")
