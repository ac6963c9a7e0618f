"""Annotated sentences from a file become a project's confirmed labels.

:func:`import_labels` (``project.import_labels``, ``allabel project import``). A file sentence matches the project sentence
with the same id and the same text; else the project sentences with exactly
its text. Token formats (CoNLL, tokens/tags JSONL) rebuild a sentence's text
by joining its tokens with single spaces, so texts that differ only in
whitespace match too, and the spans are moved onto the project's text
character by character (a span's edges are never whitespace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..data.schema import Schema
from ..data.sentence import TRUSTED, Sentence
from ..errors import MissingTypesError, ProjectError


@dataclass
class ImportReport:
    """What an import did (or, with errors, would have done)."""

    matched_by_id: int = 0
    matched_by_text: int = 0
    unmatched: list[str] = field(default_factory=list)  # ids of file sentences that matched nothing
    sentences: int = 0  # project sentences that became confirmed
    spans: int = 0
    replaced: int = 0  # project sentences already confirmed whose labels the file replaced
    ignored_suggestions: int = 0  # suggested (not confirmed) spans in the file, not imported
    added_types: list[str] = field(default_factory=list)

    def line(self) -> str:
        out = (f"imported {self.spans} spans on {self.sentences} sentences "
               f"({self.matched_by_id} matched by id, {self.matched_by_text} by text)")
        if self.replaced:
            out += f"; replaced the labels of {self.replaced} already confirmed"
        if self.added_types:
            out += f"; added types {', '.join(self.added_types)}"
        if self.ignored_suggestions:
            out += f"; {self.ignored_suggestions} suggested spans in the file not imported"
        if self.unmatched:
            shown = ", ".join(self.unmatched[:10]) + (f" and {len(self.unmatched) - 10} more" if len(self.unmatched) > 10 else "")
            out += f"; {len(self.unmatched)} sentences of the file matched none of the project's: {shown}"
        return out


def _squeeze(text: str) -> str:
    return "".join(text.split())


def move_spans(src: str, dst: str, spans: Iterable) -> list[tuple[int, int, str]]:
    """Spans over ``src`` as ``(start, end, label)`` over ``dst``, which has
    the same characters apart from whitespace."""
    if src == dst:
        return [(sp.start, sp.end, sp.label) for sp in spans]
    dst_at = [i for i, ch in enumerate(dst) if not ch.isspace()]  # k-th non-space character of dst
    before = [0] * (len(src) + 1)  # non-space characters of src before offset i
    for i, ch in enumerate(src):
        before[i + 1] = before[i] + (not ch.isspace())
    return [(dst_at[before[sp.start]], dst_at[before[sp.end] - 1] + 1, sp.label) for sp in spans]


def match(project_texts: Mapping[str, str], sentences: Iterable[Sentence]):
    """``(pairs, report)``: ``pairs`` maps each matched project sentence id to
    ``[(start, end, label)]`` over its text; ``report`` counts the matches."""
    by_text: dict[str, list[str]] = {}
    by_squeezed: dict[str, list[str]] = {}
    for sid, text in project_texts.items():
        by_text.setdefault(text, []).append(sid)
        by_squeezed.setdefault(_squeeze(text), []).append(sid)
    pairs: dict[str, list[tuple[int, int, str]]] = {}
    report = ImportReport()
    for s in sentences:
        trusted = [sp for sp in s.spans if sp.status in TRUSTED]
        report.ignored_suggestions += len(s.spans) - len(trusted)
        own = project_texts.get(s.id)
        if own is not None and _squeeze(own) == _squeeze(s.text):
            targets = [s.id]
            report.matched_by_id += 1
        else:
            targets = by_text.get(s.text) or by_squeezed.get(_squeeze(s.text)) or []
            if not targets:
                report.unmatched.append(s.id)
                continue
            report.matched_by_text += 1
        for sid in targets:
            pairs[sid] = sorted(set(move_spans(s.text, project_texts[sid], trusted)))
    return pairs, report


def import_labels(project, sentences, *, add_types: bool = False, source: str | None = None) -> ImportReport:
    """Make the annotated ``sentences`` (a corpus read from a file) confirmed
    labels of ``project``: each is matched to a project sentence (see the
    module docstring); a matched sentence's spans are replaced by the file's
    and it becomes confirmed. Unmatched ones are listed in the report;
    nothing else changes.

    Types the file uses that the schema lacks: :class:`MissingTypesError`
    listing them, or with ``add_types`` they are appended to the schema
    first. Bad spans (overlapping, whitespace at an edge) and a file of
    which nothing matches raise before anything is written. One undoable
    action (two when types are added).
    """
    source = source or getattr(sentences, "source", None) or "the file"
    sentences = list(sentences)
    texts = project.pool_texts()
    pairs, report = match(texts, sentences)
    if not pairs:
        raise ProjectError(f"{source}: none of its {len(sentences)} sentences matches a project sentence "
                           "by id or by text; nothing imported")
    schema = project.schema
    missing = [label for label in dict.fromkeys(lab for spans in pairs.values() for *_, lab in spans)
               if label not in schema]
    if missing and not add_types:
        raise MissingTypesError(f"{source} uses types the project does not have: {', '.join(missing)}; "
                                "add them to the schema (add_types=True, or --add-types) or rename them in the file",
                                missing)
    if missing:
        added = Schema.from_labels(missing)  # checks the names before anything is written
        project.labels.check_spans(pairs, also=missing)
        project.types.merge(added)
        report.added_types = missing
    report.sentences = len(pairs)
    report.spans = sum(len(v) for v in pairs.values())
    report.replaced = project.labels.replace_confirmed(
        pairs, action="import_labels", summary={"source": str(source), "sentences": report.sentences, "spans": report.spans})
    return report
