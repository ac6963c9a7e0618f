"""What LLM work cost: calls, tokens, latency, cache hits, errors, money.

A :class:`Ledger` is filled by the LLM model (each HTTP attempt, retry and
error) and the predictor (cache hits, parse counts, the up-front estimate).
It holds counts and the endpoint's description only: never a key, never a
prompt. ``summary()`` is a dict for manifests and the UI; ``line()`` one
readable line for the CLI.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from ..errors import ConfigError
from .parse import COUNT_KEYS  # the parse counts' one list, in its order


@dataclass(frozen=True)
class Prices:
    """US dollars per million input (prompt) and output (completion) tokens."""

    input_per_million: float
    output_per_million: float

    def __post_init__(self):
        if self.input_per_million < 0 or self.output_per_million < 0:
            raise ConfigError("prices must not be negative")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6

    @classmethod
    def parse(cls, text: str) -> Prices:
        """``"0.15,0.60"`` (input, output per 1M tokens) -> Prices."""
        try:
            a, b = (float(x) for x in text.split(","))
        except ValueError:
            raise ConfigError(f"prices must be 'INPUT,OUTPUT' dollars per 1M tokens, got {text!r}") from None
        return cls(a, b)


# How the ledger line words a parse count (the rest: the count's name, spaced).
_PARSE_WORDS = {
    "malformed_items": "malformed items (no text or no label)",
    "invented_labels": "invented labels (not in the schema)",
    "ungrounded": "ungrounded (not in the sentence)",
    "overlapping": "overlapping",
    "snapped": "snapped to tokens",
}


def estimate_tokens(text: str) -> int:
    """A rough token count for cost estimates: ~4 characters per token."""
    return max(1, (len(text) + 3) // 4)


class Ledger:
    """Counters for one or more runs; thread-safe. ``prices`` optional."""

    def __init__(self, prices: Prices | None = None):
        self.prices = prices
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls = 0  # HTTP requests sent, every attempt
            self.retries = 0  # of those, repeats after a retryable error
            self.answers = 0  # requests that got an answer
            self.failures = 0  # requests given up on (after retries)
            self.cache_hits = 0
            self.fallbacks: Counter = Counter()  # features dropped after a 400 (json_mode, logprobs)
            self.errors: Counter = Counter()  # failed attempts by kind
            self.prompt_tokens = 0
            self.completion_tokens = 0
            self.latencies: list[float] = []
            self.parse: Counter = Counter()
            self.outcomes: Counter = Counter()  # sentences by outcome (ok, failed, truncated, unparseable)
            self.estimate: dict | None = None

    # -- recording ---------------------------------------------------------
    def record_call(self, *, latency: float, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self._lock:
            self.calls += 1
            self.answers += 1
            self.latencies.append(float(latency))
            self.prompt_tokens += int(prompt_tokens or 0)
            self.completion_tokens += int(completion_tokens or 0)

    def record_error(self, kind: str, *, latency: float = 0.0, retried: bool) -> None:
        """A failed attempt; ``retried`` says whether another attempt follows."""
        with self._lock:
            self.calls += 1
            self.errors[kind] += 1
            if retried:
                self.retries += 1
            else:
                self.failures += 1

    def record_fallback(self, feature: str) -> None:
        with self._lock:
            self.fallbacks[feature] += 1

    def record_cache_hit(self, n: int = 1) -> None:
        with self._lock:
            self.cache_hits += n

    def record_parse(self, counts: dict) -> None:
        with self._lock:
            self.parse.update({k: v for k, v in counts.items() if v})

    def record_outcome(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1

    def record_estimate(self, *, requests: int, prompt_tokens: int, completion_tokens: int) -> dict:
        """The cost estimate made before a run (for requests not cached)."""
        est = {"requests": requests, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        if self.prices:
            est["cost_usd"] = self.prices.cost(prompt_tokens, completion_tokens)
        with self._lock:
            self.estimate = est
        return est

    # -- reading -----------------------------------------------------------
    def cost(self) -> float | None:
        """Dollars spent so far by the price table, or None without one."""
        if not self.prices:
            return None
        return self.prices.cost(self.prompt_tokens, self.completion_tokens)

    def summary(self) -> dict:
        with self._lock:
            lat = sorted(self.latencies)
            out = {
                "calls": self.calls,
                "answers": self.answers,
                "retries": self.retries,
                "failures": self.failures,
                "cache_hits": self.cache_hits,
                "errors": dict(self.errors),
                "fallbacks": dict(self.fallbacks),
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "latency_total_s": round(sum(lat), 3),
                "latency_mean_s": round(sum(lat) / len(lat), 3) if lat else None,
                "latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
                "parse": dict(self.parse),
                "outcomes": dict(self.outcomes),
                "estimate": dict(self.estimate) if self.estimate else None,
            }
        out["cost_usd"] = self.cost()
        return out

    def line(self) -> str:
        """One readable line, e.g. for the CLI's stderr."""
        s = self.summary()
        parts = [f"{s['calls']} calls ({s['retries']} retries, {s['failures']} failed)", f"{s['cache_hits']} cache hits"]
        parts.append(f"{s['prompt_tokens']:,} prompt + {s['completion_tokens']:,} completion tokens")
        if s["latency_mean_s"] is not None:
            parts.append(f"latency mean {s['latency_mean_s']:.2f} s, p95 {s['latency_p95_s']:.2f} s")
        if s["errors"]:
            parts.append("errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(s["errors"].items())))
        if s["fallbacks"]:
            parts.append("unsupported: " + ", ".join(sorted(s["fallbacks"])))
        if s["outcomes"]:
            o = s["outcomes"]
            order = sorted(o, key=lambda k: (k != "ok", k))
            parts.append("sentences: " + ", ".join(f"{o[k]} {k}" for k in order))
        p = s["parse"]
        if p:
            kinds = [k for k in COUNT_KEYS if p.get(k)] + sorted(k for k in p if k not in COUNT_KEYS and p[k])
            parts.append("parse: " + ", ".join(f"{p[k]} {_PARSE_WORDS.get(k, k.replace('_', ' '))}" for k in kinds))
        if s["cost_usd"] is not None:
            cost = f"cost ${s['cost_usd']:.4f}"
            if s["estimate"] and "cost_usd" in s["estimate"]:
                cost += f" (estimated ${s['estimate']['cost_usd']:.4f})"
            parts.append(cost)
        return "LLM: " + "; ".join(parts)
