"""Plain text: one sentence per line, unlabeled.

Blank lines are skipped; surrounding whitespace is not part of a sentence.
A file that starts with ``-DOCSTART-`` is read as text, as asked, but with a
warning that it looks like CoNLL.
Sentences are tokenized by :func:`allabel_core.data.tokenize.tokenize` and get
the id ``line-N``, N their line in the file. Writing keeps only the texts: a
line break inside a sentence becomes a space, and spans are left out (with
one warning saying how many).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..data.sentence import Sentence
from ._io import Source, iter_lines


def read(text: str, src: Source, *, status: str) -> Iterator[tuple[int, Sentence]]:
    first = True
    for number, line in iter_lines(text):
        if not line.strip():
            continue
        sentence = Sentence.from_text(f"line-{number}", line.strip())
        # CoNLL-2003 ships as train.txt; reading it as sentences is rarely meant.
        if first and sentence.text.startswith("-DOCSTART-"):
            src.warn("this looks like a CoNLL file (it starts with -DOCSTART-); to read its tags, pass fmt='conll'")
        first = False
        yield number, sentence


def write(sentences: Sequence[Sentence], statuses: Sequence[str]) -> tuple[str, list[str]]:
    lines, warnings, n_spans = [], [], 0
    for s in sentences:
        n_spans += len(s.spans_with(statuses))
        line = " ".join(s.text.split("\n")).strip()
        if not line:
            warnings.append(f"sentence {s.id!r} not written: its text is empty, and blank lines are not sentences")
            continue
        if "\n" in s.text:
            warnings.append(f"sentence {s.id!r}: line breaks in its text written as spaces")
        lines.append(line)
    if n_spans:
        warnings.append(f"{n_spans} spans not written: plain text holds no labels")
    return "".join(line + "\n" for line in lines), warnings
