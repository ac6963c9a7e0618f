"""What a strategy returns: the picked pool indices and why each was picked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Pick:
    """One selected pool sentence and the reason it was selected.

    ``stage``: ``"diversity"``, ``"similarity"``, ``"uncertainty"``,
    ``"random"`` or ``"full"``. ``score`` is the number it won on:

    - diversity seed: its mean similarity to the pool (lowest wins);
    - diversity: its highest similarity to anything already selected
      (lowest wins); ``nearest`` is that already-selected index and
      ``nearest_similarity`` the same similarity;
    - similarity: its coverage score, the rank points it still earns from
      target sentences (highest wins);
    - uncertainty: the predictor's uncertainty (highest wins);
    - random / full: ``nan``.

    ``note`` says anything else a reader needs (a shortlist was used, the
    seed rule, an approximate index).
    """

    index: int
    stage: str
    score: float
    nearest: int | None = None
    nearest_similarity: float | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    """Picked pool indices in pick order, with one :class:`Pick` each.

    ``np.asarray(selection)`` gives the ``(n,)`` int64 indices, so a
    selection can be used wherever an index array is expected.
    """

    picks: tuple[Pick, ...] = ()
    params: dict = field(default_factory=dict, compare=False)

    @property
    def indices(self) -> np.ndarray:
        return np.fromiter((p.index for p in self.picks), dtype=np.int64, count=len(self.picks))

    def __len__(self) -> int:
        return len(self.picks)

    def __iter__(self) -> Iterator[Pick]:
        return iter(self.picks)

    def __array__(self, dtype=None, copy=None):
        out = self.indices
        return out.astype(dtype) if dtype is not None else out

    def by_stage(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.picks:
            counts[p.stage] = counts.get(p.stage, 0) + 1
        return counts
