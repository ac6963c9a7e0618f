"""The one model class for every OpenAI-compatible chat endpoint.

:class:`OpenAICompatible` speaks OpenAI chat completions to any server that
does (OpenAI, vLLM, Ollama, llama.cpp's server, ...): messages in, text out,
with retries and backoff, and JSON mode and token log-probabilities dropped
for good where an endpoint refuses them. It is configured by ``base_url``,
``model`` and ``api_key``, and the ``base_url`` given is the one used. The key
lives only in memory: it is not in the cache key, the ledger, ``repr()``, nor
any error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .ledger import Ledger
from .chat_model import Completion, LlmRequestError, run_sync

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers want a non-empty key and ignore it
JSON_MODES = ("auto", True, False)


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
