"""Requests in flight at the server: LLM predictor concurrency 8 vs 1.

A local OpenAI-compatible server on 127.0.0.1 (the fault-injecting test
server, ``tests/fault_server.py``) answers every chat request after exactly
one second. The LLM predictor labels the same sentences of the sample test
set with the default settings of ``allabel predict`` (``--json-mode auto``,
``--uncertainty none``; here with the answer cache off and zero-shot
prompts, k=0, so only the endpoint is measured) at concurrency 1 and 8.
Each run talks to a fresh server on a new port, so every run starts with the
endpoint unknown and its JSON-mode probe (the path that used to serialise
requests).

For each level it prints the medians over the repeats of: wall time, the
most and the mean requests in flight at the server (mean: time spent
answering / span from the first arrival to the last answer) and the
server's throughput (answers per second over that span); then the ratios
8 vs 1. Target: >= 6x at the server.

    .venv/bin/python benchmarks/bench_llm_concurrency.py [--n 48] [--repeats 3] [--delay 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from fault_server import FaultServer  # noqa: E402

from allabel_core.formats import read_corpus  # noqa: E402
from allabel_core.paths import sample_data_dir  # noqa: E402
from allabel_core.predictors.base import DemoStore  # noqa: E402
from allabel_core.predictors.llm import LlmPredictor, OpenAICompatible  # noqa: E402
from allabel_core.predictors.openai_model import forget_capabilities  # noqa: E402


def one_run(sentences, labels, *, concurrency: int, delay: float) -> dict:
    with FaultServer(model="bench-model") as server:
        forget_capabilities()  # a new port may be an old one: start from an unknown endpoint every time
        server.push(*[("slow", delay, '{"entities": []}')] * len(sentences))
        model = OpenAICompatible(server.url, "bench-model")  # library defaults: json_mode and logprobs "auto"
        p = LlmPredictor(model, labels, k=0, concurrency=concurrency, uncertainty="none", cache=False)
        t0 = time.perf_counter()
        preds = p.predict(DemoStore([], np.zeros((0, 1), np.float32)), sentences)
        wall = time.perf_counter() - t0
        served = list(server.served)
        span = max(e for _, e in served) - min(s for s, _ in served)
        return {
            "wall": wall,
            "max_in_flight": server.max_in_flight,
            "mean_in_flight": server.mean_in_flight(),
            "throughput": len(served) / span,
            "requests": len(served),
            "not_ok": sum(not x.succeeded for x in preds),
        }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48, help="sentences per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--delay", type=float, default=1.0, help="seconds the server takes per answer")
    args = ap.parse_args()

    test = read_corpus(sample_data_dir() / "test.jsonl")
    sentences = [s.with_spans([]) for s in list(test)[: args.n]]
    labels = read_corpus(sample_data_dir() / "pool.jsonl").labels
    print(f"{len(sentences)} sentences, server answers after {args.delay:g} s, {args.repeats} repeats; "
          f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    results: dict[int, list[dict]] = {1: [], 8: []}
    for _ in range(args.repeats):
        for level in (1, 8):
            results[level].append(one_run(sentences, labels, concurrency=level, delay=args.delay))

    def med(level, key):
        return statistics.median(r[key] for r in results[level])

    print(f"{'concurrency':>11} {'wall s':>8} {'max in flight':>13} {'mean in flight':>14} {'server req/s':>12} {'not ok':>6}")
    for level in (1, 8):
        print(f"{level:>11} {med(level, 'wall'):>8.2f} {med(level, 'max_in_flight'):>13.0f} "
              f"{med(level, 'mean_in_flight'):>14.2f} {med(level, 'throughput'):>12.2f} {med(level, 'not_ok'):>6.0f}")
    print(f"8 vs 1: server throughput x{med(8, 'throughput') / med(1, 'throughput'):.2f}, "
          f"mean in flight x{med(8, 'mean_in_flight') / med(1, 'mean_in_flight'):.2f}, "
          f"wall time x{med(1, 'wall') / med(8, 'wall'):.2f} (target >= 6x at the server)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
