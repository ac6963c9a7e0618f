"""LLM predictor throughput against the local llama.cpp server (SmolLM2-135M).

Predicts the same sentences of the sample corpus (demonstrations: the sample
pool's annotated sentences, k=5) at client concurrency 1, 4 and 8 with the
cache off, then once more with a fresh cache and a rerun from it. Prints
sentences/s, mean request latency and tokens per request for each, and the
cache-hit rerun time.

llama-cpp-python's server decodes one request at a time (requests wait on a
lock), so concurrency above 1 can only overlap HTTP and queueing, not
decoding: the figures show how much (if anything) that buys.

    .venv/bin/python benchmarks/bench_llm.py [--n 12] [--base-url URL --model NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from allabel_core.predictors import local_server as local_llm  # noqa: E402
from allabel_core.vectors.embed import Embedder  # noqa: E402
from allabel_core.formats import read_corpus  # noqa: E402
from allabel_core.predictors.ledger import Ledger  # noqa: E402
from allabel_core.predictors.cache import LlmCache  # noqa: E402
from allabel_core.paths import sample_data_dir  # noqa: E402
from allabel_core.predictors.base import DemoStore  # noqa: E402
from allabel_core.predictors.llm import LlmPredictor, OpenAICompatible  # noqa: E402


def run(model, labels, embedder, store, sentences, *, concurrency, cache):
    ledger = Ledger()
    p = LlmPredictor(
        model, labels, embedder=embedder, k=5, concurrency=concurrency, max_tokens=128,
        uncertainty="auto", cache=cache, ledger=ledger,
    )
    t0 = time.perf_counter()
    preds = p.predict(store, sentences)
    dt = time.perf_counter() - t0
    s = ledger.summary()
    errors = sum(1 for x in preds if x.error)
    return dt, s, errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12, help="sentences per run")
    ap.add_argument("--base-url", help="use this server instead of starting the local one")
    ap.add_argument("--model", default=local_llm.MODEL_ALIAS)
    ap.add_argument("--levels", default="1,4,8")
    args = ap.parse_args()

    handle = None
    if args.base_url:
        base_url = args.base_url
    else:
        reason = local_llm.unavailable_reason()
        if reason:
            print(f"skipped: local LLM not installed ({reason}); run `make local-llm`")
            return 0
        handle = local_llm.start_server()
        base_url = handle.base_url
        print(f"started llama_cpp.server in {handle.started_s:.1f} s at {base_url}")
    try:
        pool = read_corpus(sample_data_dir() / "pool.jsonl")
        test = read_corpus(sample_data_dir() / "test.jsonl")
        demos = [s for s in pool if s.spans]
        sentences = list(test)[: args.n]
        labels = pool.labels
        embedder = Embedder()
        store = DemoStore.from_sentences(demos, embedder)
        embedder.encode([s.text for s in sentences])  # warm the embedding cache: time the LLM only
        print(f"{len(sentences)} sentences, {len(demos)} demonstrations, k=5, labels {', '.join(labels)}")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work slows every figure)")

        def model():
            return OpenAICompatible(base_url, args.model, timeout=300, max_retries=2)

        # Warm-up: the first request pays model loading into caches.
        run(model(), labels, embedder, store, sentences[:1], concurrency=1, cache=False)
        print(f"{'concurrency':>11} {'seconds':>8} {'sent/s':>7} {'mean lat s':>10} {'p95 lat s':>9} "
              f"{'prompt tok/req':>14} {'compl tok/req':>13} {'errors':>6}")
        for level in (int(x) for x in args.levels.split(",")):
            dt, s, errors = run(model(), labels, embedder, store, sentences, concurrency=level, cache=False)
            answers = max(1, s["answers"])
            print(f"{level:>11} {dt:>8.2f} {len(sentences) / dt:>7.2f} {s['latency_mean_s']:>10.2f} "
                  f"{s['latency_p95_s']:>9.2f} {s['prompt_tokens'] / answers:>14.0f} "
                  f"{s['completion_tokens'] / answers:>13.0f} {errors:>6}", flush=True)

        with tempfile.TemporaryDirectory() as tmp:
            cache = LlmCache(Path(tmp) / "llm_cache.sqlite")
            dt1, s1, _ = run(model(), labels, embedder, store, sentences, concurrency=4, cache=cache)
            dt2, s2, _ = run(model(), labels, embedder, store, sentences, concurrency=4, cache=cache)
            cache.close()
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"cache: first run {dt1:.2f} s ({s1['calls']} calls); rerun {dt2 * 1000:.0f} ms "
              f"({s2['calls']} calls, {s2['cache_hits']} cache hits)")
    finally:
        if handle:
            handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
