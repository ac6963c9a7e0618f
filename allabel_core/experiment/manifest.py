"""What produced a curve: the run manifest (data checksums, embedder,
predictor, strategies, package versions), and the results file kept on disk
as points finish."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from ..data.corpus import Corpus
from ..io.atomic import atomic_write_text
from ..scoring import SCORING

PACKAGES = ("allabel", "numpy", "faiss-cpu", "pandas", "seqeval", "torch", "sentence-transformers", "scikit-learn")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(pool: Corpus, target: Corpus, runs: Sequence, budgets, seeds, *, embedder, predictor, cover: str, extra: dict | None = None) -> dict:
    def data(c: Corpus) -> dict:
        info = {"path": c.source, "sentences": len(c), "format": c.format}
        if c.source and Path(c.source).is_file():
            info["sha256"] = sha256_file(c.source)
        return info

    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data": {"pool": data(pool), "target": data(target)},
        "embedder": {"name": getattr(embedder, "name", type(embedder).__name__), "dim": getattr(embedder, "dim", None)},
        "predictor": {"name": predictor.name, "params": predictor.params()},
        "strategies": {r.label: {"strategy": r.name, "params": r.params, "deterministic": r.deterministic} for r in runs},
        "budgets": list(budgets),
        "seeds": list(seeds),
        "cover": cover,
        "labels_hidden": "strategies see no gold; the uncertainty stage sees gold of selected sentences only",
        "seed_policy": "strategies that cannot depend on the seed run once per budget (deterministic=True); full once at budget 1.0",
        "scoring": SCORING,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **(extra or {}),
    }


class ResultsFile:
    """Keeps ``{"manifest": ..., "results": [...]}`` at ``path``, rewritten
    atomically (temporary file + rename) after every row. Use as ``on_result``."""

    def __init__(self, path: str | Path, manifest: dict | None = None):
        self.path = Path(path)
        self.manifest = manifest or {}
        self.rows: list[dict] = []

    def __call__(self, row: dict) -> None:
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        payload = {"manifest": self.manifest, "results": self.rows}
        atomic_write_text(self.path, json.dumps(payload, indent=1, default=_json_default))


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
