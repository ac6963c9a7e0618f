"""What a project keeps besides labels: predictions with what was retrieved,
the LLM ledger, curve results and the cached map projection."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DimensionError, EmbedderMismatchError, ProjectError  # noqa: F401 (EmbedderMismatchError raised here)
from ..predictors.base import Prediction
from ..predictors.registry import public_url
from .db import dumps
from .settings import scrub
from ..data.sentence import Span

CURVE_COLUMNS = ("strategy", "budget", "seed", "f1", "precision", "recall")


@dataclass(frozen=True)
class StoredRest:
    """A pool sentence's newest prediction from "predict the rest"
    (:mod:`allabel_core.project.rest`), with its provenance and time."""

    prediction: Prediction
    provenance: dict
    created_at: float

    @property
    def source(self) -> str:
        return str(self.provenance.get("source") or self.provenance.get("predictor") or "")

    @property
    def model_version(self) -> str:
        return f"{self.source} ({self.provenance.get('version', '')})"



def _stored_rest(row) -> StoredRest:
    sid, spans, unc, kind, demos, sims, error, prov, words, at = row
    details = {"provenance": json.loads(prov)}
    if words is not None:
        details["word_uncertainty"] = json.loads(words)
    pred = Prediction(
        sid, tuple(Span(a, b, label, text, "suggested") for a, b, label, text in json.loads(spans)),
        unc if unc is not None else float("nan"), kind, tuple(json.loads(demos)),
        tuple(float("nan") if s is None else s for s in json.loads(sims)), error, details)
    return StoredRest(pred, details.get("provenance") or {}, at)


def _num(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class Records:
    """What a project keeps besides labels (``project.records``):
    predictions, the LLM ledger, curve points, the map layout.

    ``db``: the project's :class:`~.db.Database`; ``secrets``: what stored
    text is scrubbed of (:class:`~.settings.Secrets`).
    """

    def __init__(self, db, secrets):
        self._db = db
        self._secrets = secrets
        self._doubts: tuple | None = None  # (predictions' max seq and count, rest_doubts())

    # -- predictions ---------------------------------------------------------
    def save_predictions(self, predictions: Iterable[Prediction], predictor_name: str, *, role: str = "pool") -> int:
        """Store one batch of predictions (``role``: ``"pool"`` or ``"target"``)
        with their retrieved demonstrations and details; returns the run number.
        The spans are records only; to show them as suggestions on a pool
        sentence call :meth:`~allabel_core.project.labels.LabelingMixin.suggest`."""
        secrets = self._secrets.values()
        now = time.time()
        with self._db.tx() as conn:
            run = self._db.next_counter(conn, "next_prediction_run")
            conn.executemany(
                "INSERT INTO predictions (run, role, sentence_id, predictor, spans, uncertainty, uncertainty_kind,"
                " demonstrations, similarities, error, details, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        run, role, str(p.sentence_id), predictor_name,
                        dumps([[s.start, s.end, s.label, s.text] for s in p.spans]),
                        _num(p.uncertainty), p.uncertainty_kind,
                        dumps(list(p.demonstrations)), dumps([_num(x) for x in p.similarities]),
                        scrub(p.error, secrets) if p.error else None,
                        dumps(scrub(dict(p.details or {}), secrets)), now,
                    )
                    for p in predictions
                ],
            )
        return run

    def predictions(self, *, role: str | None = None, predictor: str | None = None, latest: bool = True):
        """A DataFrame, one row per stored prediction (only the newest per
        sentence, role and predictor when ``latest``): run, role, sentence_id,
        predictor, spans (list of ``[start, end, label, text]``), uncertainty,
        uncertainty_kind, demonstrations, similarities, error, details, created_at."""
        import pandas as pd

        where, args = [], []
        for col, val in (("role", role), ("predictor", predictor)):
            if val is not None:
                where.append(f"p.{col} = ?")
                args.append(val)
        if latest:
            where.append(
                "p.run = (SELECT MAX(q.run) FROM predictions q WHERE q.role = p.role"
                " AND q.sentence_id = p.sentence_id AND q.predictor = p.predictor)"
            )
        sql = "SELECT run, role, sentence_id, predictor, spans, uncertainty, uncertainty_kind, demonstrations," \
              " similarities, error, details, created_at FROM predictions p"
        if where:
            sql += " WHERE " + " AND ".join(where)
        df = pd.read_sql_query(sql + " ORDER BY p.seq", self._db.conn(), params=args)
        for col in ("spans", "demonstrations", "similarities", "details"):
            df[col] = df[col].map(json.loads)
        return df

    def prediction(self, sentence_id: str, *, role: str = "pool", predictor: str | None = None) -> Prediction | None:
        """The newest stored prediction for one sentence, or None."""
        sql = "SELECT spans, uncertainty, uncertainty_kind, demonstrations, similarities, error, details" \
              " FROM predictions WHERE role = ? AND sentence_id = ?"
        args: list = [role, sentence_id]
        if predictor is not None:
            sql += " AND predictor = ?"
            args.append(predictor)
        row = self._db.conn().execute(sql + " ORDER BY run DESC, seq DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        spans, unc, kind, demos, sims, error, details = row
        details = json.loads(details)
        return Prediction(
            sentence_id,
            tuple(Span(a, b, label, text, "suggested") for a, b, label, text in json.loads(spans)),
            unc if unc is not None else float("nan"),
            kind,
            tuple(json.loads(demos)),
            tuple(float("nan") if s is None else s for s in json.loads(sims)),
            error,
            details,
            outcome=details.get("outcome") or ("failed" if error else "ok"),
            error_kind=details.get("error_kind"),
        )

    _REST_COLS = ("sentence_id, spans, uncertainty, uncertainty_kind, demonstrations, similarities, error,"
                  " json_extract(details, '$.provenance'), json_extract(details, '$.word_uncertainty'), created_at")
    _IS_REST = "json_extract(details, '$.provenance.fingerprint') IS NOT NULL"

    def rest_predictions(self) -> dict[str, StoredRest]:
        """Pool sentence id -> its newest prediction made by "predict the
        rest" (those carry ``details["provenance"]``), for every sentence
        that has one (confirmed ones included: callers decide). The
        prediction's ``details`` hold only ``provenance`` and, from the kNN
        predictor, ``word_uncertainty``; :meth:`prediction` has them all."""
        # Only the details the export and the queue read (an LLM's details
        # also hold its whole prompt).
        rows = self._db.conn().execute(
            f"SELECT {self._REST_COLS} FROM predictions WHERE role = 'pool' AND {self._IS_REST} ORDER BY run, seq")
        return {row[0]: _stored_rest(row) for row in rows}

    def rest_prediction(self, sentence_id: str) -> StoredRest | None:
        """One sentence's entry of :meth:`rest_predictions` (or None), read
        through the index: what the Label page shows for the sentence open."""
        row = self._db.conn().execute(
            f"SELECT {self._REST_COLS} FROM predictions WHERE role = 'pool' AND sentence_id = ? AND {self._IS_REST}"
            " ORDER BY run DESC, seq DESC LIMIT 1", (sentence_id,)).fetchone()
        return None if row is None else _stored_rest(row)

    def rest_doubts(self) -> dict[str, float | None]:
        """Pool sentence id -> the uncertainty of its newest "predict the
        rest" prediction (None for a failed one or one without a measure),
        without reading the spans: what ordering the queue by doubt needs. Kept until a prediction is added or removed, so the
        Label page's reruns do not read 100k rows again."""
        conn = self._db.conn()
        key = conn.execute("SELECT MAX(seq), COUNT(*) FROM predictions").fetchone()
        memo = self._doubts
        if memo is not None and memo[0] == key:
            return memo[1]
        out: dict[str, float | None] = {}
        for sid, unc, error in conn.execute(
                f"SELECT sentence_id, uncertainty, error FROM predictions WHERE role = 'pool' AND {self._IS_REST}"
                " ORDER BY run, seq"):
            out[sid] = None if error or unc is None or unc != unc else float(unc)
        self._doubts = (key, out)
        return out

    def rest_fingerprints(self) -> dict[str, tuple[str, bool]]:
        """Pool sentence id -> ``(fingerprint, failed)`` of its newest
        "predict the rest" prediction: what a re-run compares against,
        without reading the predictions themselves (100k of them with their
        details would not fit a small machine's memory)."""
        rows = self._db.conn().execute(
            "SELECT sentence_id, json_extract(details, '$.provenance.fingerprint'), error IS NOT NULL"
            " FROM predictions WHERE role = 'pool'"
            " AND json_extract(details, '$.provenance.fingerprint') IS NOT NULL ORDER BY run, seq")
        return {sid: (fp, bool(failed)) for sid, fp, failed in rows}

    # -- LLM ledger ----------------------------------------------------------
    def log_ledger(
        self, *, model: str, base_url: str, calls: int = 1, prompt_tokens: int = 0, completion_tokens: int = 0,
        cost: float | None = None, cached: bool = False, purpose: str = "", details: Mapping | None = None,
    ) -> None:
        """Record LLM usage (tokens, calls, cost; ``cached`` for answers from
        the cache). The URL is stored without credentials or query."""
        secrets = self._secrets.values()
        with self._db.tx() as conn:
            conn.execute(
                "INSERT INTO ledger (created_at, model, base_url, purpose, calls, prompt_tokens, completion_tokens,"
                " cost, cached, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (time.time(), str(model), public_url(base_url), scrub(str(purpose), secrets), int(calls),
                 int(prompt_tokens), int(completion_tokens), _num(cost), int(bool(cached)),
                 dumps(scrub(dict(details or {}), secrets))),
            )

    def ledger(self):
        """A DataFrame of ledger rows, oldest first."""
        import pandas as pd

        df = pd.read_sql_query(
            "SELECT created_at, model, base_url, purpose, calls, prompt_tokens, completion_tokens, cost, cached, details"
            " FROM ledger ORDER BY seq", self._db.conn())
        df["cached"] = df["cached"].astype(bool)
        df["details"] = df["details"].map(json.loads)
        return df

    def ledger_totals(self) -> dict:
        """``{calls, cached_calls, prompt_tokens, completion_tokens, cost}`` over the ledger."""
        row = self._db.conn().execute(
            "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(CASE WHEN cached THEN calls ELSE 0 END), 0),"
            " COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), SUM(cost) FROM ledger").fetchone()
        return dict(zip(("calls", "cached_calls", "prompt_tokens", "completion_tokens", "cost"), row))

    # -- curve ---------------------------------------------------------------
    def save_curve(self, rows, *, run: str = "live", replace: bool = False) -> int:
        """Store curve points (a DataFrame or mappings with any of strategy,
        budget, seed, f1, precision, recall, plus anything else, kept as is)
        under ``run``; ``replace`` drops that run's earlier points. Returns
        the number stored."""
        records = rows.to_dict("records") if hasattr(rows, "to_dict") else [dict(r) for r in rows]
        secrets = self._secrets.values()
        now = time.time()
        with self._db.tx() as conn:
            if replace:
                conn.execute("DELETE FROM curve WHERE run = ?", (run,))
            for rec in records:
                rec = scrub({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()},
                            secrets)
                conn.execute(
                    "INSERT INTO curve (run, strategy, budget, seed, f1, precision, recall, data, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (run, None if rec.get("strategy") is None else str(rec["strategy"]),
                     None if rec.get("budget") is None else float(rec["budget"]),
                     None if rec.get("seed") is None else int(rec["seed"]),
                     _num(rec.get("f1")), _num(rec.get("precision")), _num(rec.get("recall")), dumps(rec), now),
                )
        return len(records)

    def curve_results(self, run: str | None = None):
        """A DataFrame of stored curve points (every key saved, plus ``run``
        and ``created_at``), in the order saved."""
        import pandas as pd

        sql, args = "SELECT run, data, created_at FROM curve", []
        if run is not None:
            sql, args = sql + " WHERE run = ?", [run]
        rows = self._db.conn().execute(sql + " ORDER BY seq", args).fetchall()
        records = [dict(json.loads(d), run=r, created_at=t) for r, d, t in rows]
        cols = ["run", *CURVE_COLUMNS]
        df = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=[*cols, "created_at"])
        return df[[c for c in cols if c in df] + [c for c in df if c not in cols]]

    def last_f1(self) -> dict | None:
        """The newest curve point with an F1: ``{run, strategy, budget, f1}``."""
        row = self._db.conn().execute(
            "SELECT run, strategy, budget, f1 FROM curve WHERE f1 IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone()
        return dict(zip(("run", "strategy", "budget", "f1"), row)) if row else None

    # -- embedder --------------------------------------------------------------
    def embedder(self) -> str | None:
        """The identity of the embedder that made this project's vectors, or None."""
        row = self._db.conn().execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
        return json.loads(row[0]) if row else None

    def use_embedder(self, identity: str, *, replace: bool = False) -> None:
        """Record ``identity`` as the project's embedder; raises
        :class:`EmbedderMismatchError` if another one made its vectors
        (``replace=True``: re-embedding; the stored map layout is dropped)."""
        with self._db.tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            stored = json.loads(row[0]) if row else None
            if stored == identity:
                return
            if stored is not None and not replace:
                raise EmbedderMismatchError(stored, identity)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (dumps(identity),))
            if stored is not None:
                conn.execute("DELETE FROM projection")
                conn.execute("DELETE FROM meta WHERE key = 'projection_params'")

    # -- projection ----------------------------------------------------------
    def save_projection(self, ids: Sequence[str], xy, params: Mapping) -> None:
        """Cache 2-D map coordinates. ``xy``: ``(len(ids), 2)`` finite floats;
        ``params``: how they were made (method, seed, neighbours...), returned
        by :meth:`projection` so a caller can tell whether they are stale."""
        xy = np.asarray(xy, dtype=np.float64)
        ids = [str(i) for i in ids]
        if xy.ndim != 2 or xy.shape != (len(ids), 2):
            raise DimensionError(f"{len(ids)} ids but coordinates of shape {xy.shape}; expected ({len(ids)}, 2)")
        if not np.isfinite(xy).all():
            raise ProjectError("projection coordinates must be finite")
        with self._db.tx() as conn:
            conn.execute("DELETE FROM projection")
            conn.executemany("INSERT INTO projection VALUES (?, ?, ?, ?)",
                             [(i, sid, float(x), float(y)) for i, (sid, (x, y)) in enumerate(zip(ids, xy))])
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('projection_params', ?)",
                         (dumps(scrub(dict(params), self._secrets.values())),))

    def projection_fits_pool(self) -> bool:
        """Whether a map is saved and is of the pool as it is (one point per
        pool sentence, in pool order), told in SQL without reading the points."""
        conn = self._db.conn()
        if conn.execute("SELECT 1 FROM meta WHERE key = 'projection_params'").fetchone() is None:
            return False
        pool, points, same = conn.execute(
            "SELECT (SELECT COUNT(*) FROM sentences WHERE role = 'pool'), (SELECT COUNT(*) FROM projection),"
            " (SELECT COUNT(*) FROM projection p JOIN sentences s"
            "  ON s.role = 'pool' AND s.pos = p.pos AND s.id = p.sentence_id)").fetchone()
        return pool == points == same

    def projection(self) -> tuple[list[str], np.ndarray, dict] | None:
        """``(ids, xy (n, 2) float32, params)`` as saved, or None."""
        conn = self._db.conn()
        meta = conn.execute("SELECT value FROM meta WHERE key = 'projection_params'").fetchone()
        if meta is None:
            return None
        rows = conn.execute("SELECT sentence_id, x, y FROM projection ORDER BY pos").fetchall()
        xy = np.array([(x, y) for _, x, y in rows], dtype=np.float32).reshape(len(rows), 2)
        return [r[0] for r in rows], xy, json.loads(meta[0])
