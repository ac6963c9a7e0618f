"""CoNLL / BIO columns: one token per line and a tag column.

A blank line ends a sentence; ``-DOCSTART-`` lines are skipped; columns are
split on tabs when a line has one (so a TSV may hold a token the tokenizer
would split), else on runs of spaces. Every token line must have the same
number of columns.

Which columns: ``token_column`` and ``tag_column`` (1-based) when given.
Otherwise the token is the first column, or the second when the first
numbers the tokens of each sentence from 1 (GermEval, CoNLL-U), and the tag
is the last column. When other columns hold tags too (CoNLL-2003's chunk
column, GermEval's nested entities), a note names them and the one read.
Columns between are ignored and not written back. IOB1 files (CoNLL-2003)
are converted to IOB2.

Skipped with a note: a header line (a first line whose tag cell is no tag,
such as ``token pos ner``), and comment lines, which start with ``#`` and
are not token lines of the file's shape (``#\\thttp://...`` in GermEval; a
token ``#`` with its tag is a token). CoNLL-U style ``# key = value`` lines
are skipped silently, and ``# id = ...`` (or ``# sent_id = ...``) names the
next sentence; a sentence without one gets ``line-N``, N the line of its
first token.

Writing gives ``token<TAB>tag`` lines and one blank line between sentences,
nothing else: doccano's CoNLL importer takes exactly that, and so does
conlleval (``-d '\\t'``, with a predicted column pasted after the gold one;
``delimiter=" "`` writes conlleval's default). Sentence ids are lost unless
``ids=True`` writes a ``# id = ...`` line before each sentence (read back
here; doccano and conlleval would take it for a token). A span's source and
score cannot be held: one warning says how many predicted spans (a source
other than ``"human"``, or a score) lost them.

Tokens are authoritative: the text of a sentence read here is its tokens
joined by single spaces. A corpus with character spans written as CoNLL and
read back therefore has the same tokens and tags, but its text may differ in
whitespace (``"LiFePO4, 3.2 V"`` returns as ``"LiFePO4 , 3.2 V"``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import ConfigError
from ..data.sentence import Sentence
from ._io import Source
from ._tags import TokenRecord, iob2_rows, token_sentences
from .sniff import _is_tag, split_columns

# Whitespace after "#" keeps a token "#" followed by its tag from looking like one.
_COMMENT = re.compile(r"^#\s+(\w+)\s*=\s*(.*?)\s*$")
_DOCSTART = "-DOCSTART-"
# A header names its columns ("ner", "Tag", "LABEL"); a cell like "X-MAT" is a bad tag, not a name.
_HEADER = re.compile(r"^[A-Za-z][A-Za-z_]*$")




def _types(tags) -> set[str]:
    return {t[2:] for t in tags if len(t) > 2 and t[1] == "-"}


def _shown(cols: list[str]) -> str:
    return " | ".join(repr(c) for c in cols[:6]) + (" | ..." if len(cols) > 6 else "")


def _row_numbers(rows: list[tuple[int, list[str], bool]]) -> bool:
    """True when the first column counts 1, 2, 3 ... in each sentence."""
    expected = 1
    for _, cols, starts in rows:
        if starts:
            expected = 1
        if cols[0] != str(expected):
            return False
        expected += 1
    return bool(rows)


def read_records(
    text: str, src: Source, *, token_column: int | None = None, tag_column: int | None = None
) -> list[TokenRecord]:
    """The sentences as written (tokens and tags, unrepaired), with the notes
    on what was skipped or chosen; raises on the first malformed line."""
    lines = text.split("\n")
    # The file's shape: the first line that is not blank, DOCSTART or "#".
    shape: tuple[int, list[str]] | None = None
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#") and split_columns(raw)[0] != _DOCSTART:
            shape = (number, split_columns(raw))
            break
    width = len(shape[1]) if shape else 0
    if shape and width < 2 and token_column is None:
        raise src.error(
            f"only one column ({shape[1][0]!r}); expected a token and its tag separated by whitespace", shape[0]
        )
    tag_index = (tag_column - 1) if tag_column else width - 1
    for name, col in (("tag_column", tag_column), ("token_column", token_column)):
        if col is not None and shape and col > width:
            raise src.error(f"{name}={col}, but line {shape[0]} has {width} columns: {_shown(shape[1])}", shape[0])

    rows: list[tuple[int, list[str], bool]] = []  # (line, columns, starts a sentence)
    ids: dict[int, str] = {}  # row index -> id from a "# id =" line
    header_checked = False
    pending_id: str | None = None
    new_sentence = True
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            new_sentence = True
            continue
        cols = split_columns(raw)
        if cols[0] == _DOCSTART:
            new_sentence = True
            continue
        if raw.lstrip().startswith("#") and not (len(cols) == width and _is_tag(cols[tag_index])):
            comment = _COMMENT.match(raw.strip())
            if comment:
                if comment.group(1) in ("id", "sent_id"):
                    pending_id, new_sentence = comment.group(2), True
            else:
                src.note("comment lines (#) skipped", f"line {number}")
                new_sentence = True
            continue
        if len(cols) == 1 and width >= 2:
            raise src.error(
                f"only one column ({cols[0]!r}); expected a token and its tag separated by whitespace", number
            )
        if len(cols) != width:
            raise src.error(
                f"{len(cols)} columns ({_shown(cols)}), but line {shape[0]} has {width} ({_shown(shape[1])}); "
                "every token line needs the same columns",
                number,
            )
        if not header_checked:
            header_checked = True
            if not _is_tag(cols[tag_index]) and _HEADER.match(cols[tag_index]) and any(
                (ln := split_columns(r)) and len(ln) == width and _is_tag(ln[tag_index])
                for r in lines[number : number + 50] if r.strip()
            ):
                src.warn(f"line {number} read as a header and skipped: {_shown(cols)}")
                continue
        rows.append((number, cols, new_sentence))
        if new_sentence and pending_id is not None:
            ids[len(rows) - 1] = pending_id
            pending_id = None
        new_sentence = False

    if token_column is not None:
        token_index = token_column - 1
    elif width > 2 and tag_index != 0 and _row_numbers(rows):
        token_index = 1
        src.warn("the first column numbers the tokens of each sentence; tokens read from column 2")
    else:
        token_index = 0
    if tag_column is None and rows:
        # Another column of entity tags of the same types (GermEval's nested
        # entities) is a choice worth naming; a chunk column (NP, VP) is not.
        types = _types(cols[tag_index] for _, cols, _ in rows)
        others = [
            k + 1 for k in range(width)
            if k not in (token_index, tag_index) and all(_is_tag(cols[k]) for _, cols, _ in rows)
            and _types(cols[k] for _, cols, _ in rows) & types
        ]
        if others:
            src.warn(
                f"column{'s' if len(others) > 1 else ''} {', '.join(map(str, others))} also hold"
                f"{'' if len(others) > 1 else 's'} entity tags; tags read from column {tag_index + 1}, the last "
                "(pass tag_column=, CLI --tag-column, for another)"
            )

    records: list[TokenRecord] = []
    current: TokenRecord | None = None
    for k, (number, cols, starts) in enumerate(rows):
        if starts or current is None:
            current = TokenRecord(number, ids.get(k, f"line-{number}"), [], [], [])
            records.append(current)
        current.words.append(cols[token_index])
        current.tags.append(cols[tag_index])
        current.lines.append(number)
    return records


def read(
    text: str, src: Source, *, status: str, token_column: int | None = None, tag_column: int | None = None
) -> list[tuple[int, Sentence]]:
    records = read_records(text, src, token_column=token_column, tag_column=tag_column)
    return token_sentences(records, src, status=status)


def write(
    sentences: Sequence[Sentence], statuses: Sequence[str], *, ids: bool = False, delimiter: str = "\t"
) -> tuple[str, list[str]]:
    if delimiter not in ("\t", " "):
        raise ConfigError(f"delimiter must be a tab or a space, got {delimiter!r}")
    warnings: list[str] = []
    blocks = []
    carried = 0
    for s, tags in iob2_rows(sentences, statuses, warnings):
        if not s.tokens:
            warnings.append(f"sentence {s.id!r} not written: it has no tokens, and CoNLL cannot hold an empty sentence")
            continue
        if s.words[0] == _DOCSTART:
            warnings.append(f"sentence {s.id!r}: its first token is {_DOCSTART}, which CoNLL readers skip")
        # A person's label is what a CoNLL file of labels means; a prediction's origin is lost.
        carried += sum(1 for sp in s.spans_with(statuses) if sp.source not in (None, "human") or sp.score is not None)
        rows = "".join(f"{word}{delimiter}{tag}\n" for word, tag in zip(s.words, tags))
        blocks.append(f"# id = {s.id}\n{rows}" if ids else rows)
    if carried:
        warnings.append(
            f"{carried} spans come from a predictor (a source other than 'human', or a score), which CoNLL "
            "cannot say; their source and score are not written"
        )
    return "\n".join(blocks), warnings
