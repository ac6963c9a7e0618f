"""Entity-level scores with seqeval in strict IOB2 mode.

seqeval's default (conlleval-compatible) mode is lenient: ``[I-X, I-X]`` is
counted as a hit for ``[B-X, I-X]``. Strict mode (``mode="strict",
scheme=IOB2``) counts an entity only when its type and both boundaries match
exactly, which is what a user of the predicted spans experiences. Every score
ALLabel reports is strict; ``lenient=True`` gives conlleval's numbers, for
comparison with papers that report them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import DataFormatError, DimensionError

SCORING = "entity-level micro P/R/F1, seqeval strict IOB2"
LENIENT = "entity-level micro P/R/F1, seqeval default mode (conlleval)"


@dataclass(frozen=True)
class Scores:
    """Micro precision/recall/F1 over entities, and the same per type."""

    precision: float
    recall: float
    f1: float
    support: int
    per_type: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


def evaluate(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, lenient: bool = False) -> Scores:
    """Score predicted BIO2 tag sequences against gold ones (strict IOB2).

    ``gold`` and ``pred``: one list of tags per sentence, equal lengths.
    Strict mode takes the tags as they are: an entity that starts with
    ``I-X`` is no entity (seqeval strict). ``lenient=True``: seqeval's
    default mode, conlleval's rules. BIOES tags (``S-X``, ``E-X``) cannot be
    scored strictly as IOB2 and raise ``DataFormatError``.
    """
    if len(gold) != len(pred):
        raise DimensionError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise DimensionError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
    # Imported here: seqeval pulls in scikit-learn and SciPy (about a second),
    # which a page that only shows the word "strict IOB2" should not pay for.
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    gold = [list(g) for g in gold]
    pred = [list(p) for p in pred]
    if not any(t != "O" for g in gold for t in g) and not any(t != "O" for p in pred for t in p):
        return Scores(0.0, 0.0, 0.0, 0, {})
    if not lenient:
        for name, seqs in (("gold", gold), ("predicted", pred)):
            bad = next((t for seq in seqs for t in seq if t[:2] in ("S-", "E-")), None)
            if bad is not None:
                raise DataFormatError(
                    f"the {name} tags use BIOES ({bad!r}); strict IOB2 scoring needs O, B-X and I-X tags "
                    "(convert them, or score leniently)"
                )
    strict = {} if lenient else {"mode": "strict", "scheme": IOB2}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **strict)
    micro = report.pop("micro avg")
    for key in ("macro avg", "weighted avg"):
        report.pop(key, None)
    per_type = {
        label: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for label, v in sorted(report.items())
    }
    return Scores(
        float(micro["precision"]), float(micro["recall"]), float(micro["f1-score"]), int(micro["support"]), per_type
    )


class StrictCounts:
    """Strict IOB2 entity counts added a batch of sentences at a time, for
    scoring a file too large to hold: after every batch is added,
    :meth:`scores` is what :func:`evaluate` gives over all of them at once.
    Entities are found by seqeval's strict IOB2 scheme, per sentence; what
    is counted per type (true positives, predicted, gold) adds up across
    batches."""

    def __init__(self):
        from collections import Counter

        self.tp: Counter = Counter()
        self.predicted: Counter = Counter()
        self.gold: Counter = Counter()

    def add(self, gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
        """Add one batch: ``gold`` and ``pred`` as for :func:`evaluate`."""
        from seqeval.scheme import IOB2, Entities

        if len(gold) != len(pred):
            raise DimensionError(f"{len(gold)} gold sentences but {len(pred)} predicted")
        for i, (g, p) in enumerate(zip(gold, pred)):
            if len(g) != len(p):
                raise DimensionError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        for name, seqs in (("gold", gold), ("predicted", pred)):
            bad = next((t for seq in seqs for t in seq if t[:2] in ("S-", "E-")), None)
            if bad is not None:
                raise DataFormatError(
                    f"the {name} tags use BIOES ({bad!r}); strict IOB2 scoring needs O, B-X and I-X tags"
                )
        true = Entities([list(g) for g in gold], IOB2)
        found = Entities([list(p) for p in pred], IOB2)
        for tag in true.unique_tags | found.unique_tags:
            t, f = true.filter(tag), found.filter(tag)
            self.tp[tag] += len(t & f)
            self.predicted[tag] += len(f)
            self.gold[tag] += len(t)

    @staticmethod
    def _prf(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
        p = tp / predicted if predicted else 0.0
        r = tp / gold if gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def scores(self) -> Scores:
        tags = sorted(set(self.predicted) | set(self.gold))
        if not any(self.predicted[t] or self.gold[t] for t in tags):
            return Scores(0.0, 0.0, 0.0, 0, {})
        per_type = {}
        for t in tags:
            p, r, f = self._prf(self.tp[t], self.predicted[t], self.gold[t])
            per_type[t] = {"precision": p, "recall": r, "f1": f, "support": int(self.gold[t])}
        p, r, f = self._prf(sum(self.tp.values()), sum(self.predicted.values()), sum(self.gold.values()))
        return Scores(p, r, f, int(sum(self.gold.values())), per_type)
