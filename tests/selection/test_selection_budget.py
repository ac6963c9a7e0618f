"""Budgets, splits, orders and strategy specs."""

import pytest

from allabel_core.errors import BudgetError, ConfigError, EmptyPoolError
from allabel_core.selection import parse_strategy, resolve_budget, split_budget, split_strategy_list


@pytest.mark.parametrize("budget, n_pool, expected", [
    (0.05, 4402, 220), (0.01, 50, 1), (0.001, 50, 1), (1.0, 37, 37), (1, 37, 1), (200, 4402, 200),
    ("0.1", 100, 10), ("5%", 200, 10), ("30", 100, 30), (0, 10, 0), (200.0, 300, 200),
])
def test_resolve_budget(budget, n_pool, expected):
    assert resolve_budget(budget, n_pool) == expected


@pytest.mark.parametrize("budget, msg", [
    (5000, "larger than the pool"), (-1, "negative"), (float("nan"), "positive"), ("lots", "not a number"),
    (2.5, "neither"), (True, "count or a fraction"),
])
def test_bad_budgets_say_what_to_do(budget, msg):
    with pytest.raises(BudgetError, match=msg):
        resolve_budget(budget, 4402)


def test_empty_pool():
    with pytest.raises(EmptyPoolError, match="empty"):
        resolve_budget(0.1, 0)


@pytest.mark.parametrize("n, split, order, expected", [
    (5, "1:3:1", "DSU", {"D": 1, "S": 3, "U": 1}),
    (220, "1:3:1", "DSU", {"D": 44, "S": 132, "U": 44}),
    (1, "1:3:1", "DSU", {"D": 0, "S": 1, "U": 0}),
    (2, "1:3:1", "DSU", {"D": 1, "S": 1, "U": 0}),
    (2, "1:3:1", "USD", {"D": 0, "S": 1, "U": 1}),
    (10, "0:1:0", "DSU", {"D": 0, "S": 10, "U": 0}),
    (10, "1:4:0", "DSU", {"D": 2, "S": 8, "U": 0}),
    (10, "1:3:1", "DS", {"D": 3, "S": 7, "U": 0}),
])
def test_split_budget(n, split, order, expected):
    got = split_budget(n, split, order)
    assert got == expected and sum(got.values()) == n


@pytest.mark.parametrize("split, order", [("1:3", "DSU"), ("a:b:c", "DSU"), ("0:0:0", "DSU"), ("-1:3:1", "DSU"),
                                          ("1:3:1", "DSX"), ("1:3:1", "DDS"), ("1:0:0", "SU")])
def test_bad_split_or_order(split, order):
    with pytest.raises(ConfigError):
        split_budget(10, split, order)


def test_strategy_specs():
    assert parse_strategy("allabel") == ("allabel", "allabel", {})
    label, name, params = parse_strategy("allabel[split=1:4:0, k_cov=5, discount=2]")
    assert (label, name) == ("allabel[split=1:4:0,k_cov=5,discount=2]", "allabel")
    assert params == {"split": "1:4:0", "k_cov": 5, "discount": 2.0}
    with pytest.raises(ConfigError, match="no option"):
        parse_strategy("coreset[split=1:1:1]")
    with pytest.raises(ConfigError, match="must be a int"):
        parse_strategy("similarity[k_cov=ten]")
    with pytest.raises(ConfigError, match="unknown strategy"):
        parse_strategy("kmeans")
    assert split_strategy_list("random, allabel[split=1:4:0,seed=random],full") == [
        "random", "allabel[split=1:4:0,seed=random]", "full"]


def test_parse_budgets_as_typed():
    from allabel_core.selection.budget import parse_budgets

    assert parse_budgets(" 0.01, 0.05 ,200") == [0.01, 0.05, 200]
    with pytest.raises(ConfigError, match="'x' is not a number"):
        parse_budgets("0.1,x")
    with pytest.raises(ConfigError, match="at least one"):
        parse_budgets(" , ")


def test_fold_small_stages_gives_tiny_shares_to_similarity():
    from allabel_core.selection.budget import fold_small_stages

    assert fold_small_stages({"D": 9, "S": 27, "U": 9}, 20) == {"D": 0, "S": 45, "U": 0}
    assert fold_small_stages({"D": 44, "S": 132, "U": 44}, 20) == {"D": 44, "S": 132, "U": 44}
    assert fold_small_stages({"D": 9, "S": 27, "U": 0}, 20) == {"D": 0, "S": 36, "U": 0}
    assert fold_small_stages({"D": 9, "S": 0, "U": 9}, 20) == {"D": 9, "S": 0, "U": 9}  # no similarity share asked for
    assert fold_small_stages({"D": 9, "S": 27, "U": 9}, 0) == {"D": 9, "S": 27, "U": 9}
    with pytest.raises(ConfigError):
        fold_small_stages({"D": 1, "S": 1, "U": 1}, -1)
