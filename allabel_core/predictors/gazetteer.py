"""Entity strings of annotated sentences, and how reliable each one is.

A :class:`Gazetteer` holds every annotated entity string (as a word sequence)
with its labels, and counts how often each string occurs anywhere in the same
sentences, annotated or not. ``precision = times annotated as X / times
seen`` says how far a match can be trusted: a string annotated every time it
appears is strong evidence, one annotated once in ten appearances is weak.
The plain longest-match tagger (:meth:`Gazetteer.longest_match`) is the
baseline every retrieval predictor has to beat.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..data.sentence import Sentence, parse_tag

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """Words ``[start, end)`` of a sentence spell an entity string seen
    ``annotated`` times as ``label`` among ``seen`` occurrences."""

    start: int
    end: int
    label: str
    annotated: int
    seen: int

    @property
    def precision(self) -> float:
        return self.annotated / self.seen if self.seen else 0.0


def word_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """BIO2 tags to word ranges ``(start, end, label)``, end-exclusive.
    An ``I-X`` that does not continue an ``X`` starts a new span."""
    out: list[tuple[int, int, str]] = []
    cur: list | None = None
    for i, tag in enumerate(tags):
        prefix, label = parse_tag(tag)
        if prefix == "I" and cur is not None and cur[2] == label:
            cur[1] = i + 1
            continue
        if cur is not None:
            out.append(tuple(cur))
            cur = None
        if prefix != "O":
            cur = [i, i + 1, label]
    if cur is not None:
        out.append(tuple(cur))
    return out


class Gazetteer:
    """Annotated entity strings of ``sentences`` with counts.

    ``ignore_case``: match strings case-insensitively. Only trusted spans of
    the sentences given are read (pass demonstrations, never predictions).
    """

    def __init__(self, sentences: Iterable[Sentence], *, ignore_case: bool = False):
        self.ignore_case = ignore_case
        self.annotated: dict[Key, Counter] = defaultdict(Counter)
        entries = [(self.normalise(s.words), word_spans(s.tags(("gold", "confirmed")))) for s in sentences]
        for words, spans in entries:
            for a, b, label in spans:
                self.annotated[words[a:b]][label] += 1
        self.annotated = dict(self.annotated)
        # Which string lengths to try at a word: keeps matching O(words * few).
        self._lengths: dict[str, tuple[int, ...]] = {}
        by_first: dict[str, set[int]] = defaultdict(set)
        for key in self.annotated:
            by_first[key[0]].add(len(key))
        self._lengths = {w: tuple(sorted(ls, reverse=True)) for w, ls in by_first.items()}
        self.seen: Counter = Counter()
        for words, _ in entries:
            self.seen.update(self._occurrences(words))

    def normalise(self, words: Sequence[str]) -> Key:
        return tuple(w.lower() for w in words) if self.ignore_case else tuple(words)

    def __len__(self) -> int:
        return len(self.annotated)

    def _occurrences(self, words: Key) -> Iterable[Key]:
        for i, w in enumerate(words):
            for n in self._lengths.get(w, ()):
                key = words[i : i + n]
                if len(key) == n and key in self.annotated:
                    yield key

    def matches(
        self,
        words: Sequence[str],
        *,
        allowed: set[tuple[Key, str]] | None = None,
        minus: Sentence | None = None,
    ) -> list[Match]:
        """Every (possibly overlapping) match of an entity string in ``words``.

        ``allowed``: only these ``(string, label)`` pairs (e.g. those of the
        retrieved demonstrations). ``minus``: a sentence whose own annotations
        and occurrences are taken out of the counts first (the query itself,
        when it is also a demonstration, must not vouch for its own answer).
        """
        norm = self.normalise(words)
        own_annotated: Counter = Counter()
        own_seen: Counter = Counter()
        if minus is not None:
            own_words = self.normalise(minus.words)
            for a, b, label in word_spans(minus.tags(("gold", "confirmed"))):
                own_annotated[(own_words[a:b], label)] += 1
            own_seen.update(self._occurrences(own_words))
        out: list[Match] = []
        for i, w in enumerate(norm):
            for n in self._lengths.get(w, ()):
                key = norm[i : i + n]
                if len(key) != n or key not in self.annotated:
                    continue
                seen = self.seen[key] - own_seen[key]
                for label, count in sorted(self.annotated[key].items()):
                    count -= own_annotated[(key, label)]
                    if count > 0 and (allowed is None or (key, label) in allowed):
                        out.append(Match(i, i + n, label, count, seen))
        return out

    def longest_match(self, words: Sequence[str]) -> list[str]:
        """BIO2 tags from a left-to-right longest-match over every string,
        each given its most frequent label (ties: alphabetical). The plain
        gazetteer baseline."""
        norm = self.normalise(words)
        tags = ["O"] * len(norm)
        i = 0
        while i < len(norm):
            for n in self._lengths.get(norm[i], ()):
                key = norm[i : i + n]
                if len(key) == n and key in self.annotated:
                    label = sorted(self.annotated[key].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
                    tags[i : i + n] = [f"B-{label}"] + [f"I-{label}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        return tags
