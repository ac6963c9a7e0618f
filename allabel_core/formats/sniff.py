"""Telling a file's format from its name and, where the name does not settle
it, from its content.

- ``.jsonl``/``.ndjson``: from the keys of the records (see :func:`jsonl_kind`).
- ``.txt``: CoNLL when most lines are a token and a tag (``looks_like_conll``),
  a table when a text column is asked for, else one sentence per line.
- ``.tsv``: CoNLL, or a table when asked for a text column or when its first
  line names columns (a ``text``/``sentence`` column, or only names) and the
  rest is not token-and-tag lines.
- ``.csv``: a table. ``.json``: Label Studio tasks.
- Any other name: JSON is Label Studio, JSON lines go by their keys, token
  and tag lines are CoNLL; anything else asks for ``fmt=``.

When the content decided (``.txt``, an unknown extension), the reader's
warnings say so, naming how to ask for the other reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import DataFormatError
from ..data.sentence import parse_tag
from ._io import Source, json_records

_SAMPLE_LINES = 5000

TABLE_OPTIONS = ("text_column", "id_column")
CONLL_OPTIONS = ("token_column", "tag_column")


def _is_tag(value: str) -> bool:
    try:
        parse_tag(value)
    except DataFormatError:
        return False
    return True


def split_columns(line: str) -> list[str]:
    """CoNLL columns: tabs when the line has one, else runs of spaces."""
    return [c.strip(" ") for c in line.rstrip().split("\t")] if "\t" in line else line.split()


def looks_like_conll(text: str, tag_column: int | None = None) -> bool:
    """True when at least 80 % of the first lines (blank, ``#`` and
    ``-DOCSTART-`` lines and a header aside) have two or more columns with a tag in the
    tag column (the last, or ``tag_column``, 1-based), and some tag is not
    ``O`` (or the file has ``-DOCSTART-``)."""
    lines = tagged = 0
    entity = header_skipped = False
    for n, raw in enumerate(text.split("\n")):
        if n >= _SAMPLE_LINES:
            break
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("-DOCSTART-"):
            entity = True
            continue
        cols = split_columns(raw)
        index = -1 if tag_column is None else tag_column - 1
        if len(cols) >= 2 and -len(cols) <= index < len(cols) and _is_tag(cols[index]):
            tagged += 1
            entity = entity or cols[index] != "O"
        elif lines == 0 and not header_skipped and len(cols) >= 2:
            header_skipped = True  # a first line naming the columns is not counted
            continue
        lines += 1
    return lines > 0 and entity and tagged >= 0.8 * lines


_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


def _header_like(text: str) -> bool:
    """True when the first line names columns: a cell ``text``/``sentence``,
    or only name-like cells, none of them a tag."""
    lines = [line for line in text.split("\n", 3)[:3] if line.strip()]
    if len(lines) < 2:
        return False
    cells = [c.strip() for c in lines[0].split("\t")]
    if any(c.lower() in ("text", "sentence") for c in cells):
        return True
    return all(_NAME.match(c) and not _is_tag(c) for c in cells)


def jsonl_kind(records: Iterable[tuple[int, dict]], src: Source) -> str:
    """The JSONL format from its records' keys.

    Any record with Prodigy's ``answer`` or ``_input_hash``/``_task_hash``:
    prodigy. The first record with ``tokens`` and ``tags``: jsonl. Otherwise,
    over all records: ``label``/``labels`` or (with ``text``) ``entities``:
    doccano; ``spans``: spacy; only ``text`` (with ``id``/``meta`` or other
    keys): unlabelled JSONL (``jsonl-text``).
    """
    first_line, first = None, None
    union: set[str] = set()
    all_text = True
    for line, record in records:  # one pass, keeping only the keys: a big file is not held parsed
        if first is None:
            first_line, first = line, record
        union.update(record)
        all_text = all_text and "text" in record
    if first is None:
        raise src.error("no records found", 1)
    if union & {"answer", "_input_hash", "_task_hash"}:
        return "prodigy"
    if {"tokens", "tags"} <= set(first):
        return "jsonl"
    if union & {"label", "labels"} or ("entities" in union and "text" in union):
        return "doccano"
    if "spans" in union:
        return "spacy"
    if all_text:
        return "jsonl-text"
    raise src.error(
        f"cannot tell the JSONL format from the keys of the first record ({', '.join(sorted(first)) or 'none'}); "
        "expected 'tokens' and 'tags' (jsonl), 'text' and 'label' or 'labels' (doccano), "
        "'text' and 'spans' (spacy), 'answer' (prodigy), or just 'text' (unlabelled); or pass fmt=",
        first_line,
    )


# Keys only Label Studio's tasks (and its JSON-min export) have.
_LABEL_STUDIO = {"data", "annotations", "predictions", "completions", "annotator", "annotation_id"}


def _json_kind(content: str, src: Source) -> str:
    """A .json file is Label Studio tasks unless its records carry another
    tool's keys (a doccano or tokens/tags JSON array): then that format."""
    try:
        records = [r for r in json_records(content, src)]
    except DataFormatError:
        return "labelstudio"  # its reader gives the error in its own terms
    for _, record in records:
        if set(record) & _LABEL_STUDIO or any(
            isinstance(v, list) and v and all(isinstance(x, dict) and "labels" in x for x in v) for v in record.values()
        ):
            return "labelstudio"
    try:
        kind = jsonl_kind(records, src)
    except DataFormatError:
        return "labelstudio"
    return "labelstudio" if kind == "jsonl-text" else kind


def _json_document(content: str) -> bool:
    stripped = content.lstrip()
    if not stripped.startswith(("[", "{")):
        return False
    try:
        json.loads(content)
    except json.JSONDecodeError:
        return False
    return True


def _json_lines(content: str) -> bool:
    lines = [line for line in content.split("\n")[:_SAMPLE_LINES] if line.strip()]
    if not lines:
        return False
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                return False
        except json.JSONDecodeError:
            return False
    return True


def detect(filename: str, content: str, candidates: list[str], options: dict, src: Source) -> str:
    """The format for ``filename``; ``candidates`` are those its extension
    allows (empty for an unknown one), ``options`` the reader options given."""
    suffix = Path(filename).suffix.lower()
    wants_table = any(options.get(k) is not None for k in TABLE_OPTIONS)
    wants_conll = any(options.get(k) is not None for k in CONLL_OPTIONS)
    if "jsonl" in candidates:
        if wants_table:
            return "jsonl-text"
        return jsonl_kind(json_records(content, src), src)
    if suffix == ".txt":
        if wants_table:
            return "table"
        if wants_conll:
            return "conll"
        if looks_like_conll(content):
            src.warn(
                "read as CoNLL (told from the content: token lines with a tag column); "
                "to read each line as a sentence instead, pass fmt='text' (CLI --format text)"
            )
            return "conll"
        return "text"
    if suffix == ".tsv":
        if wants_table:
            return "table"
        conll_like = wants_conll or looks_like_conll(content, options.get("tag_column"))
        if not conll_like and _header_like(content):
            return "table"
        return "conll"
    if suffix == ".json":
        return _json_kind(content, src)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:  # several formats share the extension, and nothing above settles it
        return candidates[0]
    # An unknown extension: only the content can tell.
    if wants_table:
        return "table"
    if _json_document(content):
        fmt = "labelstudio"
    elif _json_lines(content):
        fmt = jsonl_kind(json_records(content, src), src)
    elif wants_conll or looks_like_conll(content):
        fmt = "conll"
    else:
        return ""
    src.warn(
        f"read as {fmt} (told from the content; the extension {suffix or '(none)'!r} does not say); "
        "pass fmt= for another"
    )
    return fmt
