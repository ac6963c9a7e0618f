"""Sentence embeddings from any OpenAI-compatible ``/v1/embeddings`` server.

vLLM (``vllm serve <model> --task embed``), Hugging Face Text Embeddings
Inference, Ollama, llama.cpp (``--embedding``) and hosted APIs all answer
``POST /v1/embeddings``; :class:`RemoteEmbedder` sends the corpus there in
batches, ``concurrency`` requests at a time, through the same
:class:`~allabel_core.predictors.endpoint.Endpoint` as the chat client (one
HTTP layer: per-attempt deadline, retries with backoff on 429/5xx/timeouts,
every attempt counted in a ledger, the key scrubbed from every message).

Vectors are unit-normalised and cached in the same
:class:`~allabel_core.vectors.embed.VectorCache` as the local model's, keyed
by the server's model identity (the model name the server reports, and the
vector width) and a hash of the text, so a corpus is never embedded twice
and vectors from two models never mix. Each batch is cached as it arrives:
an interrupted run resumes from what was already answered.

A server answering one vector per token (llama.cpp with a model that
defines no pooling) has them mean-pooled. Word vectors (the offline kNN
predictor's) are not part of the protocol;
they come from the local model (:attr:`words`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..jobs import Progress
from ..paths import cache_dir
from .embed import Embedder, VectorCache, cached_rows, unit_rows


def _run_sync(coro_factory):
    """Run the requests also from inside a running event loop (the LLM
    predictor retrieves its demonstrations inside its own)."""
    from ..predictors.chat_model import run_sync

    return run_sync(coro_factory)

EMBEDDERS = ("local", "openai")
DEFAULT_LOCAL = "local"
PROBE_TEXT = "ALLabel embedding probe"


def _pooled(embedding) -> np.ndarray:
    """One vector per text. A llama.cpp server whose model defines no pooling
    answers one vector per token; those are mean-pooled (as
    sentence-transformers pools)."""
    v = np.asarray(embedding, dtype=np.float32)
    if v.ndim == 2 and len(v):
        return v.mean(axis=0)
    if v.ndim != 1:
        raise ValueError(f"an embedding of shape {v.shape}, not a vector")
    return v


class RemoteEmbedder:
    """Unit float32 sentence vectors from an OpenAI-compatible server.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (vLLM, TEI, llama.cpp).
        model: the model name to ask for (what the server serves).
        api_key: default ``$OPENAI_API_KEY``, else none (local servers).
        batch_size: texts per request; concurrency: requests in flight.
        timeout, max_retries: per attempt, as for the chat client.
        cache: a :class:`VectorCache`, ``None`` for the shared one, ``False``
            for none. endpoint: an existing ``Endpoint`` (tests, sharing).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 4,
        cache: VectorCache | bool | None = None,
        endpoint=None,
    ):
        from ..predictors.endpoint import Endpoint
        from ..predictors.ledger import Ledger

        if not model:
            raise ConfigError("the openai embedder needs a model name (--embed-model)")
        if batch_size < 1 or concurrency < 1:
            raise ConfigError(f"batch size and concurrency must be at least 1, got {batch_size} and {concurrency}")
        self.endpoint = endpoint or Endpoint(
            base_url, api_key, timeout=timeout, max_retries=max_retries,
            key_hint="pass the embedding server's key in $OPENAI_API_KEY",
        )
        self.model = str(model)
        self.batch_size = int(batch_size)
        self.concurrency = int(concurrency)
        self.ledger = Ledger()
        if cache is None or cache is True:
            cache = VectorCache(cache_dir() / "embeddings.sqlite")
        self.cache: VectorCache | None = cache or None
        self._served: str | None = None
        self._dim: int | None = None
        self._words: Embedder | None = None

    def __repr__(self) -> str:
        return f"RemoteEmbedder({self.endpoint.base_url!r}, model={self.model!r})"

    # -- identity ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.model

    def _probe(self) -> None:
        if self._dim is None:
            vecs, served = _run_sync(lambda: self._run([PROBE_TEXT], None))
            self._served = served or self.model
            self._dim = int(vecs.shape[1])

    @property
    def dim(self) -> int:
        """Vector width, as the server answers (one probe request, once)."""
        self._probe()
        return int(self._dim)

    def identity(self) -> str:
        """``openai:<model the server reports>:<width>``: what made the vectors
        (the base URL is left out: the same model behind another address
        makes the same vectors)."""
        self._probe()
        return f"openai:{self._served}:{self._dim}"

    def describe(self) -> str:
        return f"{self.model} at {self.endpoint.base_url}"

    @property
    def words(self) -> Embedder:
        """The local model, for word vectors (not part of ``/v1/embeddings``)."""
        if self._words is None:
            self._words = Embedder(cache=self.cache if self.cache else False)
        return self._words

    def word_vectors(self, words_list, *, progress: Progress | None = None):
        return self.words.word_vectors(words_list, progress=progress)

    # -- requests ------------------------------------------------------------
    async def _batch(self, texts: list[str]) -> tuple[np.ndarray, str]:
        from ..predictors.endpoint import parse_response

        async def call(client):
            raw = await client.embeddings.with_raw_response.create(
                model=self.model, input=texts, encoding_format="float"
            )
            # The JSON is read directly: the SDK's typed objects cost ~1 ms
            # per 384 floats, more than the server's answer on a fast network.
            try:
                body = json.loads(raw.http_response.content)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                parse_response(raw)  # raises NotJsonError for a web page or other text
                raise ValueError("the answer is not a JSON object")
            rows = sorted(body.get("data") or [], key=lambda d: d.get("index", 0))
            if len(rows) != len(texts):
                raise ValueError(f"{len(rows)} embeddings for {len(texts)} texts")
            vecs = np.asarray([_pooled(r.get("embedding")) for r in rows], dtype=np.float32)
            if vecs.ndim != 2 or vecs.shape[1] == 0 or not np.isfinite(vecs).all():
                raise ValueError(f"embeddings of shape {vecs.shape} (or not finite)")
            if self._dim is not None and vecs.shape[1] != self._dim:
                raise ValueError(f"embeddings of width {vecs.shape[1]}, earlier ones {self._dim}")
            return vecs, str(body.get("model") or "")

        (vecs, served), latency = await self.endpoint.send(call, ledger=self.ledger)
        self.ledger.record_call(latency=latency)
        return unit_rows(vecs), served

    async def _run(self, texts: list[str], store) -> tuple[np.ndarray | None, str]:
        """Embed ``texts`` in batches, ``concurrency`` at a time. With
        ``store(first_row, vecs)``, each batch goes there as it is answered
        and nothing is kept (a 100k corpus is not held twice): returns
        ``(None, served model)``; without, ``(all vectors, served model)``."""
        gate = asyncio.Semaphore(self.concurrency)
        served = ""

        async def one(a: int) -> np.ndarray | None:
            nonlocal served
            async with gate:
                vecs, name = await self._batch(texts[a : a + self.batch_size])
            served = served or name
            if store is None:
                return vecs
            store(a, vecs)
            return None

        try:
            parts = await asyncio.gather(*(one(a) for a in range(0, len(texts), self.batch_size)))
        finally:
            await self.endpoint.aclose()
        return (np.vstack(parts) if store is None else None), served

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed sentences: ``(len(texts), dim)`` float32, unit rows. Cached
        texts are not sent; each answered batch is cached at once.
        Raises :class:`~allabel_core.errors.LlmRequestError` when the server
        fails after its retries (nothing half-written: what was answered
        stays cached)."""
        dim = self.dim
        tag = f"{self.identity()}|sent"
        n = len(texts)
        out, keys, todo = cached_rows(self.cache, tag, texts, dim)
        done = n - len(todo)
        if progress:
            progress(done, n)
        pending = list(todo.items())
        send = [texts[i] for _, i in pending]

        def store(a: int, vecs: np.ndarray) -> None:
            nonlocal done
            part = pending[a : a + len(vecs)]
            for (_, i), v in zip(part, vecs):
                out[i] = v
            if self.cache:
                self.cache.put_many({k: v[None, :] for (k, _), v in zip(part, vecs)})
            done += len(part)
            if progress:
                progress(done, n)

        if send:
            _run_sync(lambda: self._run(send, store))
        for i, k in enumerate(keys):
            if k in todo and todo[k] != i:
                out[i] = out[todo[k]]
        return out


def embedder_identity(embedder) -> str:
    """What made an embedder's vectors: ``local:<model>`` or the remote one's."""
    ident = getattr(embedder, "identity", None)
    if callable(ident):
        return ident()
    return f"local:{getattr(embedder, 'name', type(embedder).__name__)}"


def build_embedder(
    kind: str = DEFAULT_LOCAL,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    batch_size: int = 64,
    concurrency: int = 4,
    cache: VectorCache | bool | None = None,
):
    """The embedder ``kind`` names: ``"local"`` (in-process all-MiniLM-L6-v2)
    or ``"openai"`` (a ``/v1/embeddings`` server at ``base_url`` serving
    ``model``)."""
    if kind == "local":
        from . import embed  # looked up at call time, so a test may stand in for the model

        return embed.Embedder(cache=cache)
    if kind == "openai":
        if not base_url:
            raise ConfigError("the openai embedder needs a base URL (--embed-base-url), e.g. http://127.0.0.1:8000/v1")
        return RemoteEmbedder(base_url, model or "", api_key=api_key, batch_size=batch_size,
                              concurrency=concurrency, cache=cache)
    raise ConfigError(f"unknown embedder {kind!r}; choose one of {', '.join(EMBEDDERS)}")


def embedder_from_settings(settings: dict, *, api_key: str | None = None, cache: VectorCache | bool | None = None):
    """The embedder a project's settings name (``embedder``, ``embed_base_url``,
    ``embed_model``, ``embed_batch_size``, ``embed_concurrency``)."""
    return build_embedder(
        settings.get("embedder", DEFAULT_LOCAL), base_url=settings.get("embed_base_url") or None,
        model=settings.get("embed_model") or None, api_key=api_key,
        batch_size=int(settings.get("embed_batch_size", 64)), concurrency=int(settings.get("embed_concurrency", 4)),
        cache=cache,
    )


def describe_embedder(settings: dict) -> str:
    """One line for people: which embedder the settings choose."""
    if settings.get("embedder", DEFAULT_LOCAL) == "openai":
        from ..predictors.endpoint import redact_url

        return f"{settings.get('embed_model') or '(no model)'} at {redact_url(settings.get('embed_base_url') or '(no URL)')}"
    return "all-MiniLM-L6-v2, in-process (local)"
