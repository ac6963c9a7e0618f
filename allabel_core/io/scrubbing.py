"""The one scrubber for every text ALLabel stores or shows: API keys out.

Every key in use is known here: the ones in the environment
(``OPENAI_API_KEY``, ``ALLABEL_API_KEY``), every key passed to an endpoint
client (:class:`~allabel_core.predictors.endpoint.Endpoint` registers its own), and
every key typed for a session (``Project.register_secret``). The answer
cache, stored and written predictions, the ledger and error messages all
pass through :func:`scrub`, so a key a server echoes back (in an error or in
a 200 answer) never reaches disk. Keys live in this process's memory only.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping

ENV_SECRETS = ("OPENAI_API_KEY", "ALLABEL_API_KEY")
REDACTED = "[redacted]"
# Local servers want a non-empty key and ignore it: this placeholder is no secret.
PLACEHOLDER_KEYS = frozenset({"not-needed", "none", "EMPTY", "sk-no-key-required"})
MIN_SECRET_LENGTH = 8  # shorter strings would scrub ordinary words

SECRET_NAME = re.compile(r"api[_-]?key|secret|passw(or)?d|authori[sz]ation|bearer|credential|(^|_)token$", re.I)
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")

_registered: set[str] = set()
_lock = threading.Lock()


def _usable(value: str | None) -> bool:
    return bool(value) and len(value) >= MIN_SECRET_LENGTH and value not in PLACEHOLDER_KEYS


def register_secret(value: str | None) -> None:
    """Remember ``value`` (in memory only) as a key to scrub from everything."""
    if _usable(value):
        with _lock:
            _registered.add(str(value))


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Every key to scrub: the environment's, the registered ones and
    ``extra``; longest first, so a key containing another is replaced whole."""
    values = {os.environ.get(name, "") for name in ENV_SECRETS} | set(extra)
    with _lock:
        values |= _registered
    return sorted((v for v in values if _usable(v)), key=len, reverse=True)


def scrub(obj, secrets: Iterable[str] = ()):
    """A copy of ``obj`` (a string, or dicts/lists of them) with every known
    key, ``sk-…``-looking strings and the values of secret-named dict keys
    replaced by ``"[redacted]"``; ``secrets`` adds keys for this call."""
    return _scrub(obj, known_secrets(secrets))


def _scrub(obj, secrets: list[str]):
    if isinstance(obj, Mapping):
        return {k: (REDACTED if SECRET_NAME.search(str(k)) else _scrub(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_scrub(v, secrets) for v in obj]
    if isinstance(obj, str):
        for s in secrets:
            if s in obj:
                obj = obj.replace(s, REDACTED)
        return _KEY_LIKE.sub(REDACTED, obj)
    return obj
