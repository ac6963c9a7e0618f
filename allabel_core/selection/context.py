"""What predictor-based strategies need besides vectors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import PredictorError
from ..data.sentence import Sentence

Annotate = Callable[[Sequence[int]], Sequence[Sentence]]
"""``annotate(indices)`` returns the annotated pool sentences at those indices."""


@dataclass
class SelectionContext:
    """The pool sentences, a predictor, and where labels come from.

    ``sentences``: the pool in row order; their spans are removed on
    construction, so no strategy can see a label it was not given.
    ``predictor``: a :class:`~allabel_core.predictors.Predictor`.
    ``annotate``: the oracle, called only with indices already selected
    (a benchmark reveals gold there; a live session asks the annotator).
    ``annotated``: pool index → annotated sentence, for labels already known
    (a live session's confirmed sentences); consulted before ``annotate``.
    ``embedder``: what the predictor embeds with (for the manifest and for
    predictors that need it). ``predictor_seconds`` accumulates time spent
    inside the predictor, so callers can report it apart from selection.
    """

    sentences: Sequence[Sentence]
    predictor: object
    annotate: Annotate | None = None
    annotated: Mapping[int, Sentence] | None = None
    embedder: object | None = None
    predictor_seconds: float = 0.0
    # ``progress(done, total)`` while the predictor scores candidates (stage 3).
    progress: Callable[[int, int], None] | None = None
    revealed: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.sentences = [s.with_spans([]) if s.spans else s for s in self.sentences]

    def labelled(self, indices: Sequence[int]) -> list[Sentence]:
        """Annotated sentences at these (selected) pool indices."""
        indices = [int(i) for i in indices]
        known = self.annotated or {}
        missing = [i for i in indices if i not in known]
        got: dict[int, Sentence] = {i: known[i] for i in indices if i in known}
        if missing:
            if self.annotate is None:
                raise PredictorError(
                    f"{len(missing)} selected sentences have no annotation and no annotate() oracle was given; "
                    "annotate them first or pass annotate=..."
                )
            answers = list(self.annotate(missing))
            if len(answers) != len(missing):
                raise PredictorError(f"annotate() returned {len(answers)} sentences for {len(missing)} indices")
            got.update(zip(missing, answers))
        self.revealed.update(indices)
        return [got[i] for i in indices]
