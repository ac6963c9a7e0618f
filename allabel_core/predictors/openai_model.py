"""The one model class for every OpenAI-compatible chat endpoint.

:class:`OpenAICompatible` speaks OpenAI chat completions to any server that
does (OpenAI, vLLM, Ollama, llama.cpp's server, ...): messages in, text out.
The HTTP side (deadline per attempt, retries and backoff, error messages, the
key) is its :class:`~allabel_core.predictors.endpoint.Endpoint`; what is chat-specific
lives here: JSON mode and token log-probabilities, asked for where the
endpoint takes them and dropped for good where it refuses them (found out by
one request while the others wait only for that verdict, never for its
retries). It is configured by ``base_url``, ``model`` and ``api_key``, and the
``base_url`` given is the one used. The key lives only in memory: it is not in
the cache key, the ledger, ``repr()``, nor any error message.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..errors import ConfigError
from .chat_model import Completion, LlmRequestError, run_sync
from .endpoint import DEFAULT_BASE_URL, NO_KEY, Endpoint, parse_response, redact_url  # noqa: F401  (re-exported)
from .ledger import Ledger

JSON_MODES = ("auto", True, False)
PROBE_WAIT = 2.0  # seconds others wait for the first request's verdict on a feature, at most

# What endpoints were seen to accept ((base_url, model) -> feature -> bool):
# facts about servers, learnt once per process and shared by every
# OpenAICompatible pointed at the same one.
_ENDPOINTS: dict[tuple[str, str], dict[str, bool]] = {}
_ENDPOINTS_LOCK = threading.Lock()


def forget_capabilities() -> None:
    """Forget what this process learnt about endpoints (a server that was
    reconfigured, or a test server reusing a port)."""
    with _ENDPOINTS_LOCK:
        _ENDPOINTS.clear()


def offers(models: Sequence[str], name: str) -> bool:
    """Whether a model list names ``name`` (Ollama lists ``llama3:latest``
    for the ``llama3`` it answers to)."""
    return name in models or f"{name}:latest" in models


class OpenAICompatible:
    """A chat model behind any OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1``; default
            ``$OPENAI_BASE_URL``, else OpenAI's.
        model: the model name the server knows.
        api_key: default ``$OPENAI_API_KEY``, else ``"not-needed"`` (local
            servers want a non-empty key and ignore it).
        timeout: seconds per attempt, in total (connect, headers and body).
        max_retries: further attempts after a 429, 5xx, timeout, connection
            error or unreadable response (a 200 that is not JSON: once);
            every attempt is counted in the ledger.
        backoff, max_backoff: exponential backoff ``backoff * 2**attempt``
            (with jitter), capped; a server's Retry-After wins, capped too.
        json_mode: ``"auto"`` asks for ``response_format={"type":
            "json_object"}`` and drops it for good if the server answers 400
            to it; ``True`` always asks; ``False`` never.
        logprobs: ``"auto"``/``True``/``False``, likewise for token log-probabilities.
        max_tokens: the answer's length limit.
        rng: a ``random.Random`` for the jitter (seed it in tests).
        key_hint: what a 401 message tells the person to do about the key.
        endpoint: an :class:`~allabel_core.predictors.endpoint.Endpoint` to use instead
            of building one from the arguments above.

    Calling the model, ``model(prompts)``, takes a list of message lists
    and returns the answer texts; :meth:`acomplete` is the async form that
    :class:`~allabel_core.predictors.llm.LlmPredictor` uses.
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
        key_hint: str | None = None,
        endpoint: Endpoint | None = None,
    ):
        if not model:
            raise ConfigError("an OpenAI-compatible model needs a model name (e.g. --model gpt-4o-mini)")
        if json_mode not in JSON_MODES or logprobs not in JSON_MODES:
            raise ConfigError("json_mode and logprobs must be 'auto', True or False")
        if max_tokens < 1:
            raise ConfigError("max_tokens must be positive")
        self.endpoint = endpoint or Endpoint(
            base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff,
            max_backoff=max_backoff, rng=rng, key_hint=key_hint,
        )
        self.base_url = self.endpoint.base_url
        self.model = model
        self.json_mode = json_mode
        self.logprobs = logprobs
        self.max_tokens = int(max_tokens)
        # What this endpoint was seen to accept: None unknown, True, False.
        # "auto" features start from what this process already learnt about
        # the same endpoint, so a refused feature costs one 400 per process.
        with _ENDPOINTS_LOCK:
            known = dict(_ENDPOINTS.get((self.base_url, model), {}))
        self.supports: dict[str, bool | None] = {
            "json_mode": known.get("json_mode") if json_mode == "auto" else bool(json_mode),
            "logprobs": known.get("logprobs") if logprobs == "auto" else bool(logprobs),
        }
        # Per event loop: the verdict the first request on an unknown
        # feature is finding out (an asyncio.Event, set once it has one).
        self._probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

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

    @property
    def timeout(self) -> float:
        return self.endpoint.timeout

    @property
    def max_retries(self) -> int:
        return self.endpoint.max_retries

    @property
    def _key(self):
        return self.endpoint._key

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout})"

    async def aclose(self) -> None:
        """Close this event loop's HTTP client (the predictor does, after a run)."""
        await self.endpoint.aclose()

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
        features = self._features(json_mode, logprobs)
        settled = None
        if any(self.supports[f] is None for f in features):
            # One request finds out whether the endpoint takes the feature;
            # the others wait for that verdict (its first attempt, never its
            # retries, and PROBE_WAIT at most), so a refused feature costs one
            # 400, not one per request, and nobody queues behind a retry.
            loop = asyncio.get_running_loop()
            verdict = self._probes.get(loop)
            if verdict is None or verdict.is_set():
                verdict = self._probes[loop] = asyncio.Event()
                settled = verdict.set
            else:
                try:
                    await asyncio.wait_for(verdict.wait(), min(self.timeout, PROBE_WAIT))
                except asyncio.TimeoutError:
                    pass
                features = self._features(json_mode, logprobs)
        return await self._request(messages, features, temperature, max_tokens, seed, ledger, settled)

    async def _request(self, messages, features, temperature, max_tokens, seed, ledger, settled) -> Completion:
        asked = set(features)
        stripped: set[str] = set()
        limit = int(max_tokens or self.max_tokens)

        async def call(client):
            kwargs = self._kwargs(messages, asked, temperature, limit, seed)
            resp = parse_response(await client.chat.completions.with_raw_response.create(**kwargs))
            completion = self._completion(resp, asked, limit)
            # Learnt before the verdict is announced, so those waiting on it
            # see what this request found out.
            for f in asked:
                self._learn(f, True)
            for f in stripped:
                if self.supports[f] is not False:
                    self._learn(f, False)
                    if ledger:
                        ledger.record_fallback(f)
            return completion

        def adapt(kind: str, exc: Exception) -> bool:
            # A 400 to a request with a feature the endpoint never confirmed:
            # perhaps it does not take JSON mode (or logprobs); ask again
            # without it, one feature at a time, and if that works, remember.
            unconfirmed = [f for f in ("json_mode", "logprobs") if f in asked and self.supports[f] is not True]
            if kind != "bad_request" or not unconfirmed:
                return False
            stripped.add(unconfirmed[0])
            asked.discard(unconfirmed[0])
            return True

        try:
            completion, latency = await self.endpoint.send(call, ledger=ledger, adapt=adapt, settled=settled)
        except LlmRequestError as exc:
            if exc.kind != "not_found":
                raise
            raise LlmRequestError(
                f"{self.base_url} has no model {self.model!r} or no chat completions endpoint (HTTP 404)",
                kind=exc.kind, status=exc.status,
            ) from None
        if ledger:
            ledger.record_call(
                latency=latency, prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens
            )
        return replace(completion, latency=latency)

    def _completion(self, resp, features: set[str], max_tokens: int) -> Completion:
        if isinstance(resp, (str, bytes)) or not getattr(resp, "choices", None):
            raise ValueError("the response has no choices")
        choice = resp.choices[0]
        text = choice.message.content if choice.message is not None else None
        # A server may quote the key back in an answer: it never goes further.
        text = self.endpoint.scrub(text) if text else ""
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
            json_mode="json_mode" in features,
            logprobs_requested="logprobs" in features,
            max_tokens=max_tokens,
        )

    def __call__(self, prompts: Sequence[Sequence[Mapping]], *, concurrency: int = 4, **params) -> list[str]:
        """Answer texts for a list of message lists (in order); a failed one
        raises. For per-item errors, caching and parsing use
        :class:`~allabel_core.predictors.llm.LlmPredictor`."""

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

    def check(self, timeout: float = 5.0) -> list[str] | None:
        """The model names the endpoint lists (GET /models), None when it
        offers no list; raises :class:`LlmRequestError` with a one-line
        reason when the server cannot be used (unreachable, a web page)."""

        async def run():
            try:
                return await self.endpoint.list_models(timeout=timeout)
            finally:
                await self.aclose()

        return run_sync(run)

    def verify_model(self, timeout: float = 5.0) -> list[str] | None:
        """:meth:`check`, then a :class:`~allabel_core.errors.ConfigError`
        naming the models the server has when it lists some and not ours."""
        models = self.check(timeout)
        if models is not None and not offers(models, self.model):
            shown = ", ".join(sorted(models)[:20]) + (f" (and {len(models) - 20} more)" if len(models) > 20 else "")
            raise ConfigError(
                f"{self.base_url} has no model {self.model!r}; it offers: {shown or 'no models at all'}"
            )
        return models
