"""BM25 over science terms, with bm25s; built indexes are cached on disk.

Scoring is bm25s's Lucene variant (Kamphuis et al. 2020, "Which BM25 Do
You Mean?"): a document ``d`` scores, for the distinct terms ``t`` of the
query that occur in it,

    Σ_t  ln(1 + (N − df_t + 0.5) / (df_t + 0.5)) · tf_{t,d} / (tf_{t,d} + k1 · (1 − b + b · |d| / avgdl))

with ``N`` documents, ``df_t`` documents holding ``t``, ``|d|`` the
document's term count. A query term repeated counts once (a sentence that
says "TiO2" three times asks for TiO2, not three times more). Documents that
share no term with the query are not returned: their score is 0 and their
order would be arbitrary.

Indexes are content-addressed like embeddings: the key is a digest of the
tokenizer version, ``k1``, ``b`` and every document's terms' text, so the
same corpus is tokenized and indexed once per machine, whichever face asked
(files under ``<cache_dir>/bm25/<key>/``, written to a temporary folder and
renamed, so a reader never sees half an index). Corpora smaller than
``DISK_MIN`` documents are kept in memory only: indexing them costs less
than reading them back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..paths import cache_dir
from .terms import TERMS_VERSION, terms
from .topk import pad_rows, top_k

DISK_MIN = 5_000  # documents; below this an index is rebuilt rather than read from disk
_MEMORY = 16  # indexes kept in memory per process (least recently used dropped)
_memo: OrderedDict[str, object] = OrderedDict()
_memo_lock = threading.Lock()


def corpus_key(texts: Sequence[str], *, k1: float, b: float) -> str:
    """The cache key of a BM25 index over ``texts``."""
    h = hashlib.sha1(f"{TERMS_VERSION}\x00bm25s-lucene\x00{k1!r}\x00{b!r}\x00{len(texts)}\x00".encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


def _build(texts: Sequence[str], k1: float, b: float):
    import bm25s

    index = bm25s.BM25(k1=k1, b=b, method="lucene")
    docs = [terms(t) for t in texts]
    index.index(docs, show_progress=False)
    return index


def _load_or_build(texts: Sequence[str], k1: float, b: float, use_disk: bool):
    key = corpus_key(texts, k1=k1, b=b)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key], "memory"
    import bm25s

    folder = cache_dir() / "bm25" / key
    source = "built"
    index = None
    if use_disk and (folder / "params.index.json").is_file():
        try:
            index = bm25s.BM25.load(str(folder), load_corpus=False)
            source = "disk"
        except (OSError, ValueError, KeyError):
            index = None  # a damaged entry is rebuilt and replaced
    if index is None:
        index = _build(texts, k1, b)
        if use_disk:
            _save(index, folder)
    with _memo_lock:
        _memo[key] = index
        while len(_memo) > _MEMORY:
            _memo.popitem(last=False)
    return index, source


def _save(index, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        index.save(str(tmp))
        os.replace(tmp, folder)
    except OSError:
        # Another process saved the same index first (or the disk is full):
        # the one in memory is used either way.
        shutil.rmtree(tmp, ignore_errors=True)


class Bm25Retriever:
    """BM25 retrieval over a fixed corpus of sentence texts.

    ``texts``: the documents (row ``i`` has id ``i``). ``k1``, ``b``: the
    BM25 constants (default bm25s's 1.5 and 0.75). ``cache``: keep the built index on disk for large corpora (see
    :data:`DISK_MIN`); ``source`` says where it came from (``"built"``,
    ``"memory"`` or ``"disk"``).
    """

    name = "bm25"
    needs = ("texts",)

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75, cache: bool = True):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = float(k1), float(b)
        self.n = len(texts)
        if self.n:
            self._index, self.source = _load_or_build(list(texts), self.k1, self.b, cache and self.n >= DISK_MIN)
        else:
            self._index, self.source = None, "built"

    def __len__(self) -> int:
        return self.n

    def params(self) -> dict:
        return {"retriever": "bm25", "k1": self.k1, "b": self.b, "tokenizer": TERMS_VERSION}

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every document for one query: ``(n,)`` float32."""
        if self._index is None:
            return np.zeros(0, np.float32)
        vocab = self._index.vocab_dict
        ids = sorted({vocab[t] for t in terms(text) if t in vocab})
        if not ids:
            return np.zeros(self.n, np.float32)
        return np.asarray(self._index.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, texts: Sequence[str], vectors=None, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Per query text, the ``k`` best documents with a positive score:
        ``(ids, scores)``, both ``(len(texts), k)``, best first (ties: lower
        id first), padded with id -1 and score -inf. ``vectors`` is ignored."""
        rows = []
        for text in texts:
            s = self.scores(text)
            rows.append(top_k(s, k, positive=True))
        return pad_rows(rows, len(texts), k)
