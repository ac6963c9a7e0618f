"""A corpus: an ordered list of sentences with what reading it reported."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import DataFormatError
from .sentence import STATUSES, TRUSTED, Sentence


@dataclass
class Corpus(Sequence[Sentence]):
    """Sentences in file order, plus the warnings reading them produced.

    ``source`` is the path it came from (if any); ``format`` the reader used.
    """

    sentences: list[Sentence]
    warnings: list[str] = field(default_factory=list)
    source: str | None = None
    format: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, s in enumerate(self.sentences):
            if s.id in seen:
                raise DataFormatError(f"duplicate sentence id {s.id!r}", path=self.source, line=i + 1)
            seen.add(s.id)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Corpus(self.sentences[i], list(self.warnings), self.source, self.format)
        return self.sentences[i]

    def __iter__(self) -> Iterator[Sentence]:
        return iter(self.sentences)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sentences]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sentences]

    @property
    def labels(self) -> list[str]:
        """Entity types present in any span, sorted."""
        return sorted({sp.label for s in self.sentences for sp in s.spans})

    def by_id(self) -> dict[str, Sentence]:
        return {s.id: s for s in self.sentences}

    def subset(self, ids_or_indices: Iterable) -> Corpus:
        """Sentences at these indices (ints) or with these ids (strs), in that order."""
        lookup = None
        out: list[Sentence] = []
        for key in ids_or_indices:
            if isinstance(key, str):
                lookup = lookup or self.by_id()
                out.append(lookup[key])
            else:
                out.append(self.sentences[int(key)])
        return Corpus(out, [], self.source, self.format)

    def without_labels(self) -> Corpus:
        """The same sentences with every span removed (what a selector may see)."""
        return Corpus([s.with_spans([]) for s in self.sentences], [], self.source, self.format)

    def has_gold(self) -> bool:
        return any(sp.status == "gold" for s in self.sentences for sp in s.spans)

    def label_counts(self, statuses: Iterable[str] = STATUSES) -> Counter:
        wanted = set(statuses)
        return Counter(sp.label for s in self.sentences for sp in s.spans if sp.status in wanted)

    def tags(self, statuses: Iterable[str] = TRUSTED) -> list[list[str]]:
        statuses = tuple(statuses)
        return [s.tags(statuses) for s in self.sentences]

    def summary(self) -> dict:
        n_tokens = sum(len(s.tokens) for s in self.sentences)
        return {
            "sentences": len(self.sentences),
            "tokens": n_tokens,
            "spans": sum(len(s.spans) for s in self.sentences),
            "labels": dict(sorted(self.label_counts().items())),
        }


class CorpusStream:
    """A corpus read one sentence at a time, for files too big to hold
    parsed (a pool of 100,000 sentences): what a project is created from
    without building every :class:`Sentence` first.

    ``items``: ``(line, sentence)`` pairs as a reader yields them. Iterate
    the stream once; each sentence is checked as it comes (a duplicate id
    raises :class:`DataFormatError` naming both lines, a file that yields no
    sentence raises at its end), so a consumer must be ready to undo what
    it did with the earlier ones. ``line`` is the line of the last sentence
    read, ``lines`` the file's line count (for progress); ``warnings`` is
    complete once the iteration has ended.
    """

    def __init__(self, items: Iterable[tuple[int, Sentence]], *, source: str | None, format: str | None,
                 lines: int, warnings: Callable[[], list[str]] = list):
        self._items = iter(items)
        self._warnings = warnings
        self.source, self.format, self.lines = source, format, lines
        self.line = 0
        self.count = 0
        self._read = False

    @property
    def warnings(self) -> list[str]:
        return self._warnings()

    def numbered(self) -> Iterator[tuple[int, Sentence]]:
        """The ``(line, sentence)`` pairs, unchecked (to build another stream on)."""
        self._claim()
        return self._items

    def _claim(self) -> None:
        if self._read:
            raise RuntimeError(f"{self.source or 'the stream'}: a corpus stream is read once")
        self._read = True

    def __iter__(self) -> Iterator[Sentence]:
        self._claim()
        first: dict[str, int] = {}
        for line, sentence in self._items:
            if sentence.id in first:
                raise DataFormatError(f"duplicate id {sentence.id!r} (first used on line {first[sentence.id]})",
                                      path=self.source, line=line)
            first[sentence.id] = line
            self.line, self.count = line, self.count + 1
            yield sentence
        if not self.count:
            raise DataFormatError("no sentences found", path=self.source, line=self.lines)
        self.line = self.lines
