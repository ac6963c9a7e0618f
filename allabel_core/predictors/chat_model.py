"""The chat-model interface the LLM predictor talks to.

A model is anything with ``acomplete(messages, *, ledger=None, **params) ->``
:class:`Completion` that raises :class:`LlmRequestError` when a request
fails; :class:`~allabel_core.predictors.openai_model.OpenAICompatible` is the
one for real endpoints. A plain callable ``fn(prompts) -> texts`` (a fake with
recorded answers, say) is adapted by :func:`as_chat_model`, and
:func:`run_sync` drives these async models from synchronous code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import ConfigError, LlmRequestError  # noqa: F401  (part of the model interface)
from .ledger import Ledger


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
    max_tokens: int | None = None  # the limit the request that produced it set

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
            "max_tokens": self.max_tokens,
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
            max_tokens=p.get("max_tokens"),
        )


@runtime_checkable
class ChatModel(Protocol):
    """What :class:`~allabel_core.predictors.llm.LlmPredictor` asks of a model.

    ``supports``: feature -> accepted (True / False / None for not known yet),
    e.g. ``{"logprobs": False}``; ``wants_json``: whether to ask for JSON
    answers; ``aclose()`` releases connections after a batch.
    """

    supports: dict
    wants_json: bool

    def describe(self) -> str: ...

    def identity(self) -> dict: ...

    async def acomplete(self, messages, *, ledger: Ledger | None = None, **params) -> Completion: ...

    async def aclose(self) -> None: ...


class CallableModel:
    """Adapts a plain callable ``fn(list_of_message_lists) -> list[str]``
    (a fake with recorded answers, say) to the model interface."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.model = name or getattr(fn, "name", None) or getattr(fn, "__qualname__", type(fn).__name__)
        self.base_url = "local:callable"
        self.supports: dict = {}
        self.wants_json = False

    def describe(self) -> str:
        return f"{self.model} (in-process)"

    def identity(self) -> dict:
        return {"base_url": self.base_url, "model": self.model}

    async def aclose(self) -> None:
        pass  # nothing held open

    async def acomplete(self, messages, *, ledger: Ledger | None = None, **_params) -> Completion:
        t0 = time.perf_counter()
        text = (await asyncio.to_thread(self.fn, [list(messages)]))[0]
        completion = Completion(text=text or "", latency=time.perf_counter() - t0)
        if ledger:
            ledger.record_call(latency=completion.latency)
        return completion


def as_chat_model(model):
    """``model`` if it is a :class:`ChatModel`; a plain callable wrapped in
    :class:`CallableModel`."""
    if isinstance(model, ChatModel):
        return model
    if callable(model):
        return CallableModel(model)
    raise ConfigError(f"{model!r} is not a chat model (see ChatModel) nor a callable")


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
