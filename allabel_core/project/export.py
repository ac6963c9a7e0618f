"""A project's every entity out: its confirmed labels and predicted entities
(from "predict the rest", :mod:`.rest`) as sentences whose spans carry
their source and score, written as the entity table, the summary table or
any annotation format.

``include`` chooses what is exported (:func:`export_sentences`):
``"confirmed"`` (the sentences a person confirmed, with their spans; source
``"human"``), ``"predicted"`` (every other pool sentence with a stored
prediction, with the predicted spans; source the predictor) or ``"all"``
(both, in pool order). The format comes from the file name
(:func:`export_format`): ``.csv`` is the entity table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..data.sentence import Sentence
from ..errors import ConfigError
from ..views.entities import HUMAN, entity_summary, entity_table, sentence_confidence, span_scores, table_csv, with_source

INCLUDE = ("confirmed", "predicted", "all")
TABLE_EXTENSION = ".csv"


@dataclass
class Export:
    """What :func:`export_sentences` gathered: the sentences (spans marked
    with status, source and score), and notes for the person (e.g. sentences
    without a prediction yet)."""

    include: str
    sentences: list[Sentence]
    notes: list[str] = field(default_factory=list)
    confirmed_ids: set[str] = field(default_factory=set)
    predicted: int = 0

    @property
    def confirmed(self) -> int:
        return len(self.confirmed_ids)

    def table(self) -> pd.DataFrame:
        """The entity table of what was gathered."""
        return entity_table(self.sentences)


def check_include(include: str) -> str:
    if include not in INCLUDE:
        raise ConfigError(f"include must be one of {', '.join(INCLUDE)}, got {include!r}")
    return include


def export_sentences(project, include: str = "all") -> Export:
    """The project's confirmed labels and/or predicted entities, pool order.

    Confirmed sentences carry their confirmed spans (source ``"human"``);
    every other pool sentence carries the spans of its stored
    "predict the rest" prediction (status ``suggested``, source the
    predictor's name, score from :func:`span_scores`; the sentence's meta
    gets ``model_version`` and ``score`` for formats that hold them). A
    sentence with neither is left out and counted in ``notes``; a failed
    prediction likewise. Predicted spans of a type no longer in the schema
    are dropped.
    """
    check_include(include)
    states = project.labels.states()
    confirmed_ids = {sid for sid, st in states.items() if st == "confirmed"}
    annotated = {s.id: s for s in project.annotated()} if include != "predicted" else {}
    preds = project.records.rest_predictions() if include != "confirmed" else {}
    names = set(project.schema.names)
    out: list[Sentence] = []
    missing = failed = 0
    confirmed_out: set[str] = set()
    n_pred = 0
    for sid in project.pool_ids():
        if sid in confirmed_ids:
            if include == "predicted":
                continue
            s = annotated[sid]
            out.append(with_source(s, s.spans_with(("confirmed",)), HUMAN, status="confirmed"))
            confirmed_out.add(sid)
            continue
        if include == "confirmed":
            continue
        rec = preds.get(sid)
        if rec is None:
            missing += 1
            continue
        if rec.prediction.error:
            failed += 1
            continue
        base = project.sentence(sid, labels=False)
        p = rec.prediction
        # A type deleted since the prediction was made is not exported.
        spans = [sp for sp in p.spans if sp.label in names
                 and 0 <= sp.start < sp.end <= len(base.text) and base.text[sp.start:sp.end] == sp.text]
        scores = span_scores(base, spans, p.uncertainty, p.uncertainty_kind, p.details)
        s = with_source(base, spans, rec.source, scores, status="suggested")
        conf = sentence_confidence(p.uncertainty, p.uncertainty_kind)
        meta = dict(s.meta, model_version=rec.model_version)
        if conf is not None:
            meta["score"] = round(conf, 4)
        out.append(replace(s, meta=meta))
        n_pred += 1
    notes = []
    if missing:
        notes.append(f"{missing} sentence(s) neither confirmed nor predicted are left out: run “predict the rest” first")
    if failed:
        notes.append(f"{failed} sentence(s) whose prediction failed are left out: predict the rest again to retry them")
    return Export(include, out, notes, confirmed_out, n_pred)


_KEPT: dict[tuple[str, str], tuple[tuple, Export, pd.DataFrame]] = {}


def kept_export(project, include: str = "all") -> tuple[Export, pd.DataFrame]:
    """:func:`export_sentences` and its entity table, built again only when
    :meth:`~allabel_core.project.Project.content_version` has changed since
    the last call for this project and ``include`` (at 100k sentences the
    export takes tens of seconds; a page rerun should not). One entry per
    project file and choice is kept."""
    key = (str(project.path), check_include(include))
    version = project.content_version()
    kept = _KEPT.get(key)
    if kept is not None and kept[0] == version:
        return kept[1], kept[2]
    exp = export_sentences(project, include)
    table = exp.table()
    for other in [k for k in _KEPT if k[0] == key[0]]:
        del _KEPT[other]  # one choice per project held at a time: they can be big
    _KEPT[key] = (version, exp, table)
    return exp, table


def _writable() -> list[str]:
    """The annotation formats that hold entities (not plain text or tables of text)."""
    from ..formats import FORMATS

    return [name for name, f in FORMATS.items() if f.labelled]


def export_format(filename: str, fmt: str | None = None) -> str:
    """``"table"`` (the entity table) for a ``.csv`` name, else the
    annotation format ``fmt`` or the one the extension names (a ``.jsonl``
    name means spaCy-style JSONL, the format that keeps character spans with
    their status, source and score). ``fmt`` may also be ``"table"`` or
    ``"summary"`` (the summary table, CSV). Raises ``ConfigError`` for a
    format that holds no entities or a name that names none."""
    from ..formats import FORMATS, _candidates

    writable = _writable()
    if fmt:
        if fmt in FORMATS and fmt not in writable and fmt != "table":
            raise ConfigError(f"the {fmt} format holds no entities; choose table, summary or one of {', '.join(writable)}")
        if fmt not in ("table", "summary", *writable):
            raise ConfigError(f"unknown export format {fmt!r}; choose table, summary or one of {', '.join(writable)}")
        return fmt
    suffix = Path(filename).suffix.lower()
    if suffix == TABLE_EXTENSION:
        return "table"
    found, why = _candidates(filename)
    found = [f for f in found if f in writable]
    if not found:
        if suffix == ".txt":
            raise ConfigError(f"{filename}: plain text holds no entities; choose .csv (the entity table) or an "
                              "annotation format")
        raise ConfigError(f"{why}, or .csv for the entity table")
    if len(found) == 1:
        return found[0]
    return "spacy" if "spacy" in found else found[0]


def render_export(exp: Export, fmt: str) -> tuple[bytes, list[str]]:
    """An :class:`Export` as file content: ``fmt`` ``"table"`` (entity table
    CSV), ``"summary"`` (summary table CSV) or an annotation format (a
    person's confirmed sentences are finished annotations, e.g. Label
    Studio ``annotations``; predicted ones are ``predictions``). Returns the
    bytes and warnings (notes first, then what the format could not hold)."""
    from ..formats import dumps_corpus

    fmt = export_format("", fmt)
    if fmt == "table":
        return table_csv(exp.table()), list(exp.notes)
    if fmt == "summary":
        return table_csv(entity_summary(exp.table())), list(exp.notes)
    text, warnings = dumps_corpus(exp.sentences, fmt, statuses=("confirmed", "suggested"), annotated=exp.confirmed_ids)
    return text.encode("utf-8"), [*exp.notes, *warnings]


def export_bytes(project, fmt: str, include: str = "all") -> tuple[bytes, list[str]]:
    """:func:`export_sentences` then :func:`render_export` (``fmt`` checked first)."""
    fmt = export_format("", fmt)
    return render_export(export_sentences(project, include), fmt)


def write_export(project, path: str | Path, include: str = "all", fmt: str | None = None) -> tuple[Export, list[str]]:
    """Write the export to ``path`` atomically (format from the extension;
    ``.csv`` is the entity table). Returns what was exported and the warnings.
    The format and ``include`` are checked before anything is read, so a bad
    one writes nothing."""
    from ..io.atomic import atomic_write_bytes

    fmt = export_format(str(path), fmt)
    check_include(include)
    exp = export_sentences(project, include)
    data, warnings = render_export(exp, fmt)
    atomic_write_bytes(path, data)
    return exp, warnings
