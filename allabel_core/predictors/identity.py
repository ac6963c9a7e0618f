"""What a predictor's answers depend on, as one digest: what "predict the
rest" fingerprints stored predictions with, and what ``allabel predict``
records beside an output so an interrupted run is resumed only by the same
predictor."""

from __future__ import annotations

import hashlib
import json

# Parameters that change how fast a predictor runs, never what it answers.
SPEED_ONLY = ("concurrency", "threads")


def digest(obj) -> str:
    """The hex SHA-256 of ``obj`` as canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def predictor_identity(predictor) -> dict:
    """``{source, name, version, params, key}`` for a predictor: ``source``
    is what exports show (an LLM's model id, else the predictor's name),
    ``params`` its answer-changing parameters (:data:`SPEED_ONLY` left out),
    ``key`` their digest."""
    from .. import __version__

    params = {k: v for k, v in dict(predictor.params()).items() if k not in SPEED_ONLY}
    source = predictor.identity().get("model") or predictor.name
    key = digest([predictor.name, params])
    parts = [f"allabel {__version__}"]
    if params.get("prompt_version"):
        parts.append(f"prompt {params['prompt_version']}")
    parts.append(f"params {key[:10]}")
    return {"source": str(source), "name": predictor.name, "version": " · ".join(parts), "params": params, "key": key}
