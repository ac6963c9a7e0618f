"""An on-disk cache of LLM answers, so the same experiment never pays twice.

One SQLite file (default ``<cache_dir>/llm_cache.sqlite``) shared by the
notebook, the CLI and the dashboard. An entry is keyed by a SHA-256 over the
endpoint (``base_url`` without credentials), the model name, the prompt
version, the rendered messages and the sampling parameters; the API key is
never part of the key or of anything stored: every payload passes through
the one scrubber (:mod:`allabel_core.io.scrubbing`), so a key a server echoes
in an answer does not reach the file. Only answers that were read are
stored (the predictor decides); errors, answers cut short and unreadable
ones never are, so such a sentence is asked again on the next run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..io.scrubbing import scrub
from ..io.sqlite import ThreadLocalConnection
from ..paths import cache_dir

SCHEMA_VERSION = 1


def cache_key(*, base_url: str, model: str, prompt_version: str, messages: Sequence[Mapping], params: Mapping) -> str:
    """The hex SHA-256 that identifies one request (canonical JSON of its parts)."""
    blob = json.dumps(
        {
            "v": SCHEMA_VERSION,
            "base_url": base_url,
            "model": model,
            "prompt_version": prompt_version,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "params": dict(params),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class LlmCache:
    """Answers by request key. Safe across threads (one connection each) and
    processes (WAL). ``path`` defaults to ``<cache_dir>/llm_cache.sqlite``."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else cache_dir() / "llm_cache.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = ThreadLocalConnection(self.path)
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                " key TEXT PRIMARY KEY, created REAL, base_url TEXT, model TEXT,"
                " prompt_version TEXT, payload TEXT)"
            )

    def __repr__(self) -> str:
        return f"LlmCache({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        return self._db.get()

    def get(self, key: str) -> dict | None:
        row = self._conn().execute("SELECT payload FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, payload: Mapping, *, base_url: str, model: str, prompt_version: str) -> None:
        """Store one answer. ``payload`` must be JSON-serialisable (the
        answer text, token counts, log-probabilities); it is scrubbed of
        every known key before it is written."""
        payload = scrub(dict(payload))
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO answers (key, created, base_url, model, prompt_version, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, time.time(), scrub(base_url), scrub(model), prompt_version, json.dumps(payload, ensure_ascii=False)),
            )

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def clear(self) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM answers")

    def close(self) -> None:
        self._db.close()
