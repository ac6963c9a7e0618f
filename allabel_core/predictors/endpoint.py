"""One OpenAI-compatible server: the HTTP layer every client of it shares.

:class:`Endpoint` holds what talking to a server takes, whatever is asked of
it (chat completions today; embeddings, model lists): the base URL, the key,
a deadline per attempt, retries with backoff, error classification, messages
a person can act on, and scrubbing. :meth:`Endpoint.send` runs one request
function, ``call(client) -> result``, under those rules:

- every attempt has a total deadline (``timeout`` seconds covering connect,
  headers and body, so a server trickling a byte at a time cannot hold a
  request longer);
- a 429, 5xx, timeout, broken connection or unreadable answer is retried up
  to ``max_retries`` times with exponential backoff and jitter (a server's
  ``Retry-After`` wins, capped); a 200 whose body is not JSON (a web page:
  usually a base URL without ``/v1``) at most once; 4xx never;
- every attempt is counted in a :class:`~allabel_core.ledger.Ledger`;
- failures raise :class:`~allabel_core.errors.LlmRequestError` with a kind
  and one line saying what to do, scrubbed of every known key.

The key lives only in memory and is registered with
:mod:`allabel_core.io.scrubbing`: it is not in ``repr()``, a pickle, the cache,
the ledger or any message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, LlmRequestError
from ..io.scrubbing import register_secret, scrub
from .ledger import Ledger

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers want a non-empty key and ignore it
NOT_JSON_RETRIES = 1  # a web page instead of JSON rarely turns into JSON on a retry
DEFAULT_KEY_HINT = "pass the right api_key or set $OPENAI_API_KEY"

T = TypeVar("T")


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


class NotJsonError(ValueError):
    """A 200 answer whose body is not JSON; ``html`` when it is a web page."""

    def __init__(self, content_type: str, html: bool):
        super().__init__(f"the body is {content_type or 'untyped'}, not JSON")
        self.content_type = content_type
        self.html = html


def redact_url(url: str) -> str:
    """``url`` without user:password (shown, logged and cached instead of it)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts).rstrip("/")


def retry_after(response) -> float | None:
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


def parse_response(raw):
    """The parsed body of an openai ``with_raw_response`` answer; raises
    :class:`NotJsonError` when the body is not JSON (a web page, say)."""
    try:
        value = raw.parse()
    except json.JSONDecodeError:
        value = None
    if value is None or isinstance(value, (str, bytes)):
        ctype = raw.headers.get("content-type", "").split(";")[0].strip()
        try:
            head = raw.http_response.text.lstrip()[:200].lower()
        except Exception:  # an undecodable body is as unusable as HTML  # noqa: BLE001
            head = ""
        html = "html" in ctype or head.startswith(("<!doctype", "<html", "<")) or "<html" in head
        raise NotJsonError(ctype, html)
    return value


class Endpoint:
    """An OpenAI-compatible server and how to talk to it.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1``; default
            ``$OPENAI_BASE_URL``, else OpenAI's.
        api_key: default ``$OPENAI_API_KEY``, else ``"not-needed"``.
        timeout: seconds per attempt, in total: connect, headers and body.
        max_retries: further attempts after a 429, 5xx, timeout, connection
            error or unreadable answer (the client's own retries are off, so
            every attempt is counted).
        backoff, max_backoff: exponential backoff ``backoff * 2**attempt``
            (with jitter), capped; a server's Retry-After wins, capped too.
        rng: a ``random.Random`` for the jitter (seed it in tests).
        key_hint: what a 401 message tells the person to do about the key
            (the CLI names its ``--api-key-env`` option).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rng: random.Random | None = None,
        key_hint: str | None = None,
    ):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ConfigError("timeout must be positive, max_retries and backoff not negative")
        self._base_url = base_url.rstrip("/")
        self.base_url = redact_url(self._base_url)
        key = api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY
        register_secret(key)
        self._key = _Secret(key)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.key_hint = key_hint or DEFAULT_KEY_HINT
        self._rng = rng or random.Random()
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Endpoint({self.base_url!r}, timeout={self.timeout:g}, max_retries={self.max_retries})"

    def scrub(self, text: str) -> str:
        """``text`` without this endpoint's key (or any other known one)."""
        return scrub(text, [self._key.reveal()])

    # -- clients -------------------------------------------------------------
    def client(self):
        """The ``openai.AsyncOpenAI`` client bound to the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                from openai import AsyncOpenAI

                client = self._clients[loop] = AsyncOpenAI(
                    api_key=self._key.reveal(), base_url=self._base_url, timeout=self.timeout, max_retries=0
                )
        return client

    async def aclose(self) -> None:
        """Close the running event loop's HTTP client."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()

    # -- requests ------------------------------------------------------------
    def _delay(self, attempt: int, after: float | None) -> float:
        if after is not None:
            return min(self.max_backoff, after) * (1 + 0.1 * self._rng.random())
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + 0.5 * self._rng.random())

    async def send(
        self,
        call: Callable[[object], Awaitable[T]],
        *,
        ledger: Ledger | None = None,
        adapt: Callable[[str, Exception], bool] | None = None,
        settled: Callable[[], None] | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
    ) -> tuple[T, float]:
        """``(await call(client), seconds)`` of the first attempt that works.

        ``adapt(kind, exc)`` may change what ``call`` asks (drop a feature the
        server refused, say) and return True to send again at once;
        ``settled()`` is called once, when the first attempt has an outcome
        (so others waiting on what it finds out need not wait for its
        retries). ``max_retries``/``timeout`` override the endpoint's for
        this request. Raises :class:`LlmRequestError`.
        """
        client = self.client()
        retries = self.max_retries if max_retries is None else max_retries
        deadline = self.timeout if timeout is None else timeout
        attempt = 0
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    # wait_for (not asyncio.timeout: Python 3.10 is supported)
                    # cancels the attempt at the deadline, whatever stage it is in.
                    result = await asyncio.wait_for(call(client), deadline)
                    return result, time.perf_counter() - t0
                except Exception as exc:  # classified below; unknown kinds re-raise
                    latency = time.perf_counter() - t0
                    kind, retryable, status, after = self.classify(exc)
                    if kind == "bug":
                        raise
                    if adapt is not None and adapt(kind, exc):
                        if ledger:
                            ledger.record_error(kind, latency=latency, retried=True)
                        continue
                    if settled is not None:
                        settled()
                        settled = None
                    limit = min(retries, NOT_JSON_RETRIES) if isinstance(exc, NotJsonError) else retries
                    again = retryable and attempt < limit
                    if ledger:
                        ledger.record_error(kind, latency=latency, retried=again)
                    if not again:
                        raise LlmRequestError(self.message(kind, exc, status, deadline), kind=kind, status=status) from None
                    await asyncio.sleep(self._delay(attempt, after))
                    attempt += 1
        finally:
            if settled is not None:
                settled()

    def classify(self, exc: Exception) -> tuple[str, bool, int | None, float | None]:
        """``(kind, retryable, status, retry_after)`` of an exception raised
        by a request; kind ``"bug"`` for one that is not about the server."""
        import openai

        if isinstance(exc, (openai.APITimeoutError, TimeoutError, asyncio.TimeoutError)):
            return "timeout", True, None, None
        if isinstance(exc, openai.APIConnectionError):
            return "connection", True, None, None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            after = retry_after(exc.response)
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

    def message(self, kind: str, exc: Exception, status: int | None, timeout: float | None = None) -> str:
        """One line a person can act on (scrubbed)."""
        where = self.base_url
        if kind == "connection":
            cause = exc.__cause__ or exc.__context__
            if cause is None or type(cause).__name__ in ("ConnectError", "ConnectTimeout"):
                return f"could not reach {where}: is the server running?"
            return self.scrub(f"the connection to {where} broke: {' '.join(str(cause).split())[:200]}")
        if kind == "timeout":
            return f"{where} did not answer within {timeout or self.timeout:g} s"
        if kind == "auth":
            return f"{where} refused the API key (HTTP {status}): {self.key_hint}"
        if isinstance(exc, NotJsonError):
            what = "HTML" if exc.html else (exc.content_type or "text")
            return f"{where}: the server answered {what}, not JSON — is the base URL right (it usually ends in /v1)?"
        detail = getattr(exc, "message", None) or str(exc)
        detail = " ".join(str(detail).split())[:300]
        prefix = f"HTTP {status} from {where}" if status else f"unusable answer from {where}"
        return self.scrub(f"{prefix}: {detail}")

    async def list_models(self, *, timeout: float = 5.0) -> list[str] | None:
        """The model names ``GET /models`` lists, or None when the server
        does not offer that list (404/405/501). Raises
        :class:`LlmRequestError` when the server cannot be used at all."""

        async def call(client):
            page = parse_response(await client.models.with_raw_response.list())
            return [m.id for m in page.data]

        try:
            models, _ = await self.send(call, max_retries=0, timeout=timeout)
        except LlmRequestError as exc:
            if exc.status in (404, 405, 501):
                return None
            raise
        return models
