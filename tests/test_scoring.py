import pytest
from seqeval.metrics import f1_score

from allabel_core.errors import DimensionError
from allabel_core.scoring import evaluate


def test_strict_mode_differs_from_seqeval_default_on_missing_begin():
    gold = [["B-MAT", "I-MAT", "O"]]
    pred = [["I-MAT", "I-MAT", "O"]]
    # seqeval's default (conlleval) mode treats the I-I run as an entity start.
    assert f1_score(gold, pred) == 1.0
    # Strict IOB2 counts it as no valid entity at all.
    assert evaluate(gold, pred).f1 == 0.0


def test_micro_and_per_type_scores():
    gold = [["B-MAT", "O", "B-PRO", "I-PRO"], ["B-MAT", "O"]]
    pred = [["B-MAT", "O", "B-PRO", "O"], ["B-MAT", "O"]]
    s = evaluate(gold, pred)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.per_type["MAT"]["f1"] == 1.0
    assert s.per_type["PRO"]["f1"] == 0.0
    assert s.support == 3


def test_length_mismatch_is_an_error():
    with pytest.raises(DimensionError):
        evaluate([["O"]], [["O", "O"]])


def test_no_entities_anywhere_scores_zero_without_warning():
    assert evaluate([["O"]], [["O"]]).f1 == 0.0


def test_strict_counts_added_in_batches_equal_evaluate_at_once():
    import numpy as np

    from allabel_core.scoring import StrictCounts, evaluate

    rng = np.random.default_rng(7)
    tags = ["O", "O", "O", "B-MAT", "I-MAT", "B-PRO", "I-PRO"]
    gold = [list(rng.choice(tags, size=int(rng.integers(1, 12)))) for _ in range(300)]
    pred = [[t if rng.random() < 0.8 else str(rng.choice(tags)) for t in g] for g in gold]
    counts = StrictCounts()
    for lo in range(0, len(gold), 37):
        counts.add(gold[lo:lo + 37], pred[lo:lo + 37])
    got, want = counts.scores(), evaluate(gold, pred)
    assert (got.precision, got.recall, got.f1, got.support) == pytest.approx(
        (want.precision, want.recall, want.f1, want.support))
    assert got.per_type.keys() == want.per_type.keys()
    for label in want.per_type:
        assert got.per_type[label] == pytest.approx(want.per_type[label])
    assert StrictCounts().scores().f1 == 0.0
