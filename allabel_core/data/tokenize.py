"""The tokenizer used for plain text and for span-based formats.

Rules, in order of precedence:

1. A run of word characters (Unicode letters, digits, underscore) is one token,
   and it keeps going through a ``.`` or ``,`` that is followed by a digit, so
   ``3.2``, ``1,000`` and ``LiNi0.8Co0.1Mn0.1O2`` stay whole.
2. Every other non-space character is a token of its own: ``(``, ``-``, ``−``,
   ``°``, ``%``. So ``Ti-6Al-4V`` is five tokens and ``mAh g−1`` is four.
3. Whitespace separates tokens and is never part of one.
4. A span boundary is always a token boundary: when spans are known, tokens are
   split at their edges, so converting spans to BIO tags and back is lossless.

Offsets are 0-based, end-exclusive indices into the Python ``str`` (code
points), so astral characters such as ``𝛼`` count as one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+(?:[.,]\d+\w*)*|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its text and its character offsets in the sentence."""

    text: str
    start: int
    end: int


def tokenize(text: str, boundaries: Iterable[int] = ()) -> tuple[Token, ...]:
    """Split ``text`` into tokens with character offsets.

    ``boundaries``: character offsets at which a token must end or start
    (span edges). A token straddling one is cut there.
    """
    cuts = sorted(set(boundaries))
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        lo = bisect_right(cuts, start) if cuts else 0
        hi = bisect_left(cuts, end, lo) if cuts else 0
        if lo == hi:
            tokens.append(Token(match.group(), start, end))
            continue
        edges = [start, *cuts[lo:hi], end]
        for a, b in zip(edges, edges[1:]):
            tokens.append(Token(text[a:b], a, b))
    return tuple(tokens)


def tokens_from_words(words: Iterable[str]) -> tuple[str, tuple[Token, ...]]:
    """Join pre-tokenized words with single spaces; return the text and tokens.

    Used for token-based formats (CoNLL, JSONL tokens/tags), whose tokens are
    authoritative and must not be re-split.
    """
    tokens: list[Token] = []
    pos = 0
    parts: list[str] = []
    for word in words:
        if parts:
            parts.append(" ")
            pos += 1
        tokens.append(Token(word, pos, pos + len(word)))
        parts.append(word)
        pos += len(word)
    return "".join(parts), tuple(tokens)
