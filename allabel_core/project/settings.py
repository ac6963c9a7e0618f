"""A project's settings, their defaults, and keeping secrets out of the file.

An API key is never written to a project: it lives in the environment
(``OPENAI_API_KEY``) or, in the dashboard, in the session only. Settings
refuse keys named like a secret and values that contain a known one; free
text stored elsewhere (prediction details, ledger details, selection reasons)
is scrubbed instead (by :mod:`allabel_core.io.scrubbing`, the one scrubber), so a
key echoed in an error message is not persisted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..errors import ConfigError
from ..io.scrubbing import SECRET_NAME, known_secrets, register_secret, scrub  # noqa: F401  (the one scrubber)
from ..predictors.registry import DEFAULT_PREDICTOR, PREDICTORS
from ..retrieval.retrievers import DEFAULT_RETRIEVER, RETRIEVERS
from ..selection.stages import STAGE_NAMES
from ..vectors.remote import EMBEDDERS

DEFAULT_SETTINGS: dict = {
    "predictor": DEFAULT_PREDICTOR,  # a name in allabel_core.predictors.registry
    "base_url": "http://localhost:11434/v1",
    "model": "",
    "k": 5,  # demonstrations retrieved per sentence
    "retriever": DEFAULT_RETRIEVER,  # demonstration retrieval and stage 2's lists: dense, bm25 or hybrid
    "rrf_k": 60.0,  # hybrid's reciprocal-rank fusion constant
    "budget": 20,  # replaced at creation by 10 % of the pool
    "split": [1, 3, 1],  # diversity : similarity : uncertainty
    "stage_order": list(STAGE_NAMES),
    "seed": 0,
    "seeds": [0, 1, 2],
    "embedder": "local",  # "local" (in-process all-MiniLM-L6-v2) or "openai" (a /v1/embeddings server)
    "embed_base_url": "",
    "embed_model": "",
    "embed_batch_size": 64,
    "embed_concurrency": 4,
}

class Secrets:
    """Keys typed for this session (held in memory only), plus every other
    key the one scrubber knows: what stored free text is scrubbed of. A key
    registered here is registered with :mod:`allabel_core.io.scrubbing` too,
    so text stored outside the project (the answer cache) is scrubbed of it."""

    def __init__(self) -> None:
        self._typed: set[str] = set()

    def register(self, value: str) -> None:
        if value:
            self._typed.add(str(value))
            register_secret(str(value))

    def values(self) -> list[str]:
        return known_secrets(self._typed)


def check_setting(key: str, value, secrets: Iterable[str] = ()) -> None:
    """Raise ``ConfigError`` for a secret, a non-JSON value or an out-of-range one."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"a setting needs a non-empty name, got {key!r}")
    if SECRET_NAME.search(key):
        raise ConfigError(
            f"setting {key!r} looks like a secret; a project never stores API keys "
            "(set OPENAI_API_KEY or type the key for this session)"
        )
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {key!r} must be JSON (numbers, strings, lists, dicts), got {type(value).__name__}") from None
    if scrub(value, secrets) != json.loads(text) or any(s in text for s in known_secrets(secrets)):
        raise ConfigError(f"setting {key!r} contains what looks like an API key; it is not saved")
    if key == "predictor" and value not in PREDICTORS:
        raise ConfigError(f"predictor must be one of {', '.join(PREDICTORS)}, got {value!r}")
    if key == "retriever" and value not in RETRIEVERS:
        raise ConfigError(f"retriever must be one of {', '.join(RETRIEVERS)}, got {value!r}")
    if key == "rrf_k" and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
        raise ConfigError(f"rrf_k (the fusion constant) must be a number of at least 0, got {value!r}")
    if key == "embedder" and value not in EMBEDDERS:
        raise ConfigError(f"embedder must be one of {', '.join(EMBEDDERS)}, got {value!r}")
    if key in ("k", "budget", "embed_batch_size", "embed_concurrency") and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{key} must be a positive whole number, got {value!r}")
    if key == "split" and (
        not isinstance(value, (list, tuple)) or len(value) != 3 or any(not isinstance(v, (int, float)) or v < 0 for v in value)
        or sum(value) <= 0
    ):
        raise ConfigError(f"split must be three non-negative weights (diversity, similarity, uncertainty), got {value!r}")
    if key == "stage_order" and sorted(value or []) != sorted(STAGE_NAMES):
        raise ConfigError(f"stage_order must order {', '.join(STAGE_NAMES)}, got {value!r}")


def parse_seed_list(text: str) -> list[int]:
    """``"0, 1, 2"`` (commas or spaces) -> ``[0, 1, 2]``; ``ConfigError`` otherwise."""
    try:
        seeds = [int(s) for s in str(text).replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"seeds must be whole numbers separated by commas, got {text!r}") from None
    if not seeds:
        raise ConfigError("give at least one seed")
    return seeds
