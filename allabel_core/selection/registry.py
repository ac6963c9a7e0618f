"""Strategies by name, for the dashboard, the CLI and the experiment runner.

A strategy is a plain function ``f(pool_vectors, selected, n, *, rng,
target_vectors=None, [context=None,] **params) -> Selection``. The registry
records which ones need a :class:`~.context.SelectionContext` (a predictor and
the pool sentences) and whether a seed can change their result, and checks
parameters against the function's signature, so a misspelt option fails
instead of being ignored.

Variants are written ``name[key=value,key=value]``, e.g.
``allabel[split=1:4:0]`` or ``coreset[seed=highest-mean]``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .allabel import select_allabel
from .baselines import select_full, select_random
from .budget import DEFAULT_ORDER, parse_split
from .context import SelectionContext
from .coreset import select_coreset
from .picks import Selection
from .similarity import select_similarity
from .uncertainty import select_uncertainty


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy.

    ``needs_context(params)``: whether it needs a predictor and sentences.
    ``uses_rng(params)``: whether the seed can change its result (random
    draws or seeded tie-breaks); strategies that do not are run once per
    budget in a curve.
    """

    name: str
    func: Callable[..., Selection]
    description: str
    needs_context: Callable[[dict], bool]
    uses_rng: Callable[[dict], bool]
    defaults: dict = field(default_factory=dict)

    def resolve(self, params: dict | None = None) -> dict:
        """Defaults overlaid with ``params``; unknown keys raise :class:`ConfigError`."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            allowed = ", ".join(sorted(self.defaults)) or "none"
            raise ConfigError(f"strategy {self.name!r} has no option {', '.join(unknown)} (options: {allowed})")
        return {**self.defaults, **params}


def _defaults(func: Callable) -> dict:
    skip = {"pool_vectors", "selected", "n", "rng", "target_vectors", "context", "lists", "pool_texts", "target_texts"}
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if name not in skip and p.default is not inspect.Parameter.empty
    }


def _allabel_needs_context(p: dict) -> bool:
    return parse_split(p.get("split", "1:3:1"))[2] > 0 and "U" in str(p.get("order", DEFAULT_ORDER)).upper()


def _allabel_uses_rng(p: dict) -> bool:
    d, s, u = parse_split(p.get("split", "1:3:1"))
    order = str(p.get("order", DEFAULT_ORDER)).upper()
    return (s > 0 and "S" in order) or (u > 0 and "U" in order) or p.get("seed") == "random"


_SPECS = [
    StrategySpec("random", select_random, "uniformly at random", lambda p: False, lambda p: True),
    StrategySpec(
        "coreset", select_coreset, "stage 1 for the whole budget: greedy k-center core-set (Sener & Savarese 2018)",
        lambda p: False, lambda p: p.get("seed") == "random",
    ),
    StrategySpec(
        "similarity", select_similarity, "stage 2 for the whole budget: greedy retrieval coverage of the target",
        lambda p: False, lambda p: True,
    ),
    StrategySpec(
        "uncertainty", select_uncertainty, "stage 3 for the whole budget: most uncertain under the predictor",
        lambda p: True, lambda p: True,
    ),
    StrategySpec(
        "allabel", select_allabel, "ALLabel: diversity, similarity, uncertainty (split 1:3:1)",
        _allabel_needs_context, _allabel_uses_rng,
    ),
    StrategySpec("full", select_full, "the whole pool (the ceiling)", lambda p: False, lambda p: False),
]
STRATEGIES: dict[str, StrategySpec] = {
    s.name: StrategySpec(s.name, s.func, s.description, s.needs_context, s.uses_rng, _defaults(s.func)) for s in _SPECS
}


def strategy_names() -> list[str]:
    return list(STRATEGIES)


def get_strategy(name: str) -> StrategySpec:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}") from None


def parse_strategy(spec: str) -> tuple[str, str, dict]:
    """``"allabel[split=1:4:0,seed=random]"`` → ``(label, name, params)``.

    ``label`` is the spec as written (normalised), used to tell variants
    apart in results. Values are converted to the type of the option's
    default (int, float, str).
    """
    text = spec.strip()
    name, params = text, {}
    if "[" in text:
        if not text.endswith("]"):
            raise ConfigError(f"strategy {spec!r}: options go in brackets, e.g. allabel[split=1:4:0]")
        name, inner = text[:-1].split("[", 1)
        for item in filter(None, (x.strip() for x in inner.split(","))):
            if "=" not in item:
                raise ConfigError(f"strategy {spec!r}: option {item!r} is not key=value")
            key, value = (x.strip() for x in item.split("=", 1))
            params[key] = value
    strat = get_strategy(name.strip())
    strat.resolve(params)  # unknown options fail here, naming the allowed ones
    typed = {}
    for key, value in params.items():
        ref = strat.defaults[key]
        try:
            typed[key] = type(ref)(value) if isinstance(ref, (int, float)) and not isinstance(ref, bool) else value
        except ValueError:
            raise ConfigError(f"strategy {spec!r}: option {key}={value!r} must be a {type(ref).__name__}") from None
    label = strat.name + (f"[{','.join(f'{k}={v}' for k, v in params.items())}]" if params else "")
    return label, strat.name, typed


def split_strategy_list(text: str) -> list[str]:
    """Split ``"random,allabel[split=1:4:0,seed=random],full"`` at top-level commas."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [s for s in out if s]


def run_strategy(
    name: str,
    pool_vectors: np.ndarray,
    selected,
    n: int | None,
    *,
    rng: np.random.Generator,
    target_vectors: np.ndarray | None = None,
    context: SelectionContext | None = None,
    pool_texts=None,
    target_texts=None,
    **params,
) -> Selection:
    """Run a registered strategy by name with checked ``params``.

    ``context``, ``pool_texts`` and ``target_texts`` (the sentences' text,
    for the ``bm25`` and ``hybrid`` retrievers) are passed only to
    strategies that take them.
    """
    strat = get_strategy(name)
    resolved = strat.resolve(params)
    kwargs = dict(rng=rng, target_vectors=target_vectors, **resolved)
    accepted = inspect.signature(strat.func).parameters
    for key, value in (("context", context), ("pool_texts", pool_texts), ("target_texts", target_texts)):
        if key in accepted:
            kwargs[key] = value
    return strat.func(pool_vectors, selected, n, **kwargs)
