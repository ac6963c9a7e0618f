"""CoNLL / BIO columns: one token per line, the tag in the last column.

A blank line ends a sentence; ``-DOCSTART-`` lines are skipped; columns are
split on tabs when a line has one (so a TSV may hold a token the tokenizer
would split), else on runs of spaces. Every token line must have the same
number of columns; columns between the first (token) and the last (tag) are
ignored and not written back. IOB1 files (CoNLL-2003) are converted to IOB2.

Sentence ids are CoNLL-U style comments, ``# id = ...`` (``# sent_id = ...``
also read), written before each sentence so ids survive a round trip. Other
``# key = value`` lines are skipped. A sentence without one gets ``line-N``,
N the line of its first token.

Tokens are authoritative: the text of a sentence read here is its tokens
joined by single spaces. A corpus with character spans written as CoNLL and
read back therefore has the same tokens and tags, but its text may differ in
whitespace (``"LiFePO4, 3.2 V"`` returns as ``"LiFePO4 , 3.2 V"``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..data.sentence import Sentence
from ._io import Source
from ._tags import TokenRecord, iob2_rows, token_sentences

# Whitespace after "#" keeps a token "#" followed by its tag from looking like one.
_COMMENT = re.compile(r"^#\s+(\w+)\s*=\s*(.*?)\s*$")
_DOCSTART = "-DOCSTART-"


def read(text: str, src: Source, *, status: str) -> list[tuple[int, Sentence]]:
    records: list[TokenRecord] = []
    pending_id: str | None = None
    current: TokenRecord | None = None
    columns: tuple[int, int] | None = None  # (count, line that set it)

    for number, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            current = None
            continue
        comment = _COMMENT.match(raw.strip())
        if comment:
            if comment.group(1) in ("id", "sent_id"):
                current, pending_id = None, comment.group(2)
            continue
        cols = [c.strip(" ") for c in raw.rstrip().split("\t")] if "\t" in raw else raw.split()
        if cols[0] == _DOCSTART:
            current = None
            continue
        if len(cols) < 2:
            raise src.error(
                f"only one column ({cols[0]!r}); expected a token and its tag separated by whitespace", number
            )
        if columns is None:
            columns = (len(cols), number)
        elif len(cols) != columns[0]:
            raise src.error(
                f"{len(cols)} columns, but line {columns[1]} has {columns[0]}; "
                "every token line needs the same columns, with the tag last",
                number,
            )
        if current is None:
            current = TokenRecord(number, pending_id or f"line-{number}", [], [], [])
            records.append(current)
            pending_id = None
        current.words.append(cols[0])
        current.tags.append(cols[-1])
        current.lines.append(number)
    return token_sentences(records, src, status=status)


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    warnings: list[str] = []
    blocks = []
    for s, tags in iob2_rows(sentences, statuses, warnings):
        if not s.tokens:
            warnings.append(f"sentence {s.id!r} not written: it has no tokens, and CoNLL cannot hold an empty sentence")
            continue
        if s.words[0] == _DOCSTART:
            warnings.append(f"sentence {s.id!r}: its first token is {_DOCSTART}, which CoNLL readers skip")
        rows = "".join(f"{word}\t{tag}\n" for word, tag in zip(s.words, tags))
        blocks.append(f"# id = {s.id}\n{rows}")
    return "\n".join(blocks), warnings
