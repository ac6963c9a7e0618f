"""Tag spaces (BIO2 or BIOES) and constrained Viterbi decoding over per-word scores.

A predictor that scores words one by one still has to return whole,
well-formed spans: decoding finds the tag sequence with the highest sum of
per-word log scores among the valid ones. With ``BIOES`` the words also say
where an entity *ends* (``E-X``) and which entities are one word (``S-X``),
so a hyphen that is usually inside chemical names cannot close one, and a
word that usually starts a longer name cannot stand alone. Whatever the
scheme, predictions come back as BIO2 strings.

Tag ids: ``O`` is 0; then per entity type (sorted) one id per prefix in
``"BI"`` or ``"BIES"`` order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

from ..data.sentence import parse_tag

SCHEMES = {"BIO": "BI", "BIOES": "BIES"}


class TagSpace:
    """The tags over a set of entity types in a scheme (``"BIO"`` or ``"BIOES"``)."""

    def __init__(self, labels: Sequence[str], scheme: str = "BIOES"):
        if scheme not in SCHEMES:
            raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        self.scheme = scheme
        self.prefixes = SCHEMES[scheme]
        self.labels = sorted(set(labels))
        self.tags = ["O"] + [f"{p}-{x}" for x in self.labels for p in self.prefixes]
        self.index = {t: i for i, t in enumerate(self.tags)}
        self._bio = ["O"] + [f"{'I' if p in 'IE' else 'B'}-{x}" for x in self.labels for p in self.prefixes]
        self._trans, self._final = _constraints(self)

    def __len__(self) -> int:
        return len(self.tags)

    def id(self, prefix: str, label: str) -> int:
        return self.index[f"{prefix}-{label}"]

    def ids(self, bio_tags: Sequence[str]) -> np.ndarray:
        """BIO2 tag strings to ids in this scheme: ``(len(tags),)`` int64.
        Types outside the space become ``O``."""
        out = np.zeros(len(bio_tags), dtype=np.int64)
        parsed = [parse_tag(t) for t in bio_tags]
        for i, (prefix, label) in enumerate(parsed):
            if prefix == "O" or label not in self.labels:
                continue
            if self.scheme == "BIOES":
                nxt = parsed[i + 1] if i + 1 < len(parsed) else ("O", None)
                continues = nxt[0] in ("I", "E") and nxt[1] == label
                prefix = ("B" if continues else "S") if prefix in ("B", "S") else ("I" if continues else "E")
            out[i] = self.id(prefix, label)
        return out

    def strings(self, ids: Sequence[int]) -> list[str]:
        """Tag ids to BIO2 strings."""
        return [self._bio[int(i)] for i in ids]

    def viterbi(self, log_scores: np.ndarray, log_transitions: np.ndarray | None = None) -> np.ndarray:
        """The best valid path through ``log_scores`` (``(n_words, n_tags)``),
        plus ``log_transitions`` (``(n_tags + 1, n_tags)``, last row the
        sentence start) if given.

        Returns ``(n_words,)`` int64 tag ids. Ties go to the lower tag id
        (``O`` first), so the result is deterministic.
        """
        trans = self._trans if log_transitions is None else self._trans + log_transitions
        return viterbi(log_scores, trans, self._final)

    def viterbi_many(self, log_scores: Sequence[np.ndarray], log_transitions: np.ndarray | None = None) -> list[np.ndarray]:
        """:meth:`viterbi` for many sentences at once (one NumPy step per word
        position across all of them): same results, far less overhead."""
        trans = self._trans if log_transitions is None else self._trans + log_transitions
        return viterbi_many(log_scores, trans, self._final)

    def transition_counts(self, tag_ids: Sequence[np.ndarray]) -> np.ndarray:
        """``(n_tags + 1, n_tags)`` counts of tag bigrams (last row: sentence start)."""
        n = len(self.tags)
        counts = np.zeros((n + 1, n))
        for ids in tag_ids:
            if len(ids):
                np.add.at(counts, (np.concatenate([[n], ids[:-1]]), ids), 1)
        return counts


def _constraints(space: TagSpace) -> tuple[np.ndarray, np.ndarray]:
    """Log transition penalties ``(n + 1, n)`` (0 allowed, -inf not; last row
    the start) and final-tag penalties ``(n,)``."""
    n = len(space.tags)
    opens = [i for i, t in enumerate(space.tags) if t[0] in "OBS"]
    allowed = np.zeros((n + 1, n), dtype=bool)
    for src in range(n + 1):
        tag = space.tags[src] if src < n else "O"  # the start behaves like O
        if tag[0] in "BI":
            allowed[src, space.id("I", tag[2:])] = True
            if space.scheme == "BIOES":
                allowed[src, space.id("E", tag[2:])] = True
                continue  # an open BIOES entity must go on or end
        allowed[src, opens] = True
    final = np.array([space.scheme == "BIO" or t[0] in "OES" for t in space.tags])
    return np.where(allowed, 0.0, -np.inf), np.where(final, 0.0, -np.inf)


def viterbi(log_scores: np.ndarray, log_transitions: np.ndarray, log_final: np.ndarray | None = None) -> np.ndarray:
    """Viterbi: ``log_scores`` ``(n, t)``, ``log_transitions`` ``(t + 1, t)``
    (last row: from the sentence start; ``-inf`` forbids), ``log_final``
    ``(t,)`` (which tags may end a sentence). Returns ``(n,)`` int64."""
    n, t = log_scores.shape
    if n == 0:
        return np.zeros(0, np.int64)
    score = log_scores[0] + log_transitions[t]
    back = np.zeros((n, t), dtype=np.int64)
    trans = log_transitions[:t]
    cols = np.arange(t)
    for i in range(1, n):
        cand = score[:, None] + trans  # (from, to)
        back[i] = np.argmax(cand, axis=0)
        score = cand[back[i], cols] + log_scores[i]
    if log_final is not None:
        score = score + log_final
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def viterbi_many(
    log_scores: Sequence[np.ndarray],
    log_transitions: np.ndarray,
    log_final: np.ndarray | None = None,
    group: int = 32,
) -> list[np.ndarray]:
    """:func:`viterbi` over a batch of ``(n_i, t)`` score arrays; returns one
    ``(n_i,)`` int64 path each. Shorter sentences idle (their back pointers
    point to themselves) while longer ones go on."""
    out: list[np.ndarray] = [np.zeros(0, np.int64)] * len(log_scores)
    # Similar lengths together, so that little work goes to idling.
    order = sorted((b for b, x in enumerate(log_scores) if len(x)), key=lambda b: len(log_scores[b]))
    for c in range(0, len(order), group):
        _viterbi_group(log_scores, order[c : c + group], log_transitions, log_final, out)
    return out


def _viterbi_group(log_scores, todo: list[int], log_transitions, log_final, out: list) -> None:
    t = log_transitions.shape[1]
    lengths = np.array([len(log_scores[b]) for b in todo])
    n, width = len(todo), int(lengths.max())
    scores = np.zeros((n, width, t))
    for row, b in enumerate(todo):
        scores[row, : lengths[row]] = log_scores[b]
    score = scores[:, 0] + log_transitions[t]
    back = np.empty((width, n, t), dtype=np.int64)
    back[0] = np.arange(t)
    trans = log_transitions[:t][None]  # (1, from, to)
    for i in range(1, width):
        cand = score[:, :, None] + trans  # (n, from, to)
        arg = np.argmax(cand, axis=1)
        new = np.take_along_axis(cand, arg[:, None, :], axis=1)[:, 0] + scores[:, i]
        active = (i < lengths)[:, None]
        score = np.where(active, new, score)
        back[i] = np.where(active, arg, np.arange(t))
    if log_final is not None:
        score = score + log_final
    cur = np.argmax(score, axis=1)
    paths = np.empty((n, width), dtype=np.int64)
    rows = np.arange(n)
    for i in range(width - 1, -1, -1):
        paths[:, i] = cur
        cur = back[i, rows, cur]
    for row, b in enumerate(todo):
        out[b] = paths[row, : lengths[row]]
