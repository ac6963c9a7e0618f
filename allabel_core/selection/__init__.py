"""Which sentences to annotate: ALLabel's three stages and the baselines.

Strategies are plain functions over arrays (see :mod:`.registry`):

- :func:`select_random` — uniformly at random;
- :func:`select_coreset` — stage 1, greedy k-center core-set;
- :func:`select_similarity` — stage 2, greedy retrieval coverage of the target;
- :func:`select_uncertainty` — stage 3, most uncertain under the predictor;
- :func:`select_allabel` — the three stages with a budget split;
- :func:`select_full` — the whole pool.

Each returns a :class:`Selection`: pool indices in pick order with a
:class:`Pick` (stage, score, reason) for each.
"""

from .allabel import run_stage, select_allabel
from .baselines import select_full, select_random
from .budget import parse_order, parse_split, resolve_budget, split_budget
from .context import SelectionContext
from .coreset import greedy_kcenter, mean_similarity, select_coreset
from .picks import Pick, Selection
from .registry import STRATEGIES, get_strategy, parse_strategy, run_strategy, split_strategy_list, strategy_names
from .similarity import IVF_THRESHOLD, Coverage, choose_index, coverage_lists, coverage_scores, select_similarity
from .stages import MANUAL, STAGE_NAMES, STAGES, Stage, get_stage, stage_name
from .uncertainty import select_uncertainty

__all__ = [
    "IVF_THRESHOLD",
    "MANUAL",
    "STAGES",
    "STAGE_NAMES",
    "STRATEGIES",
    "Stage",
    "get_stage",
    "run_stage",
    "stage_name",
    "Coverage",
    "choose_index",
    "Pick",
    "Selection",
    "SelectionContext",
    "coverage_lists",
    "coverage_scores",
    "get_strategy",
    "greedy_kcenter",
    "mean_similarity",
    "parse_order",
    "parse_split",
    "parse_strategy",
    "resolve_budget",
    "run_strategy",
    "select_allabel",
    "select_coreset",
    "select_full",
    "select_random",
    "select_similarity",
    "select_uncertainty",
    "split_budget",
    "split_strategy_list",
    "strategy_names",
]
