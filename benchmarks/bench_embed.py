"""Embedder throughput against calling SentenceTransformer.encode directly.

Same 2,000 real MatScholar sentences, same model, same batch size, in one
process; each timing is the median of several runs (the machine is shared).
Prints sentences/s for both, the overhead of our wrapper (target < 10 %),
the cache-hit time for the same corpus, and word-vector throughput.

    .venv/bin/python benchmarks/bench_embed.py [--n 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from allabel_core.vectors.embed import Embedder, VectorCache  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "matscholar" / "train.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the shared datasets are not beside this checkout)")
        return
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")][: args.n]
    texts = [" ".join(r["tokens"]) for r in rows]
    words = [r["tokens"] for r in rows]

    probe = Embedder(cache=False)
    model = probe.model
    model.encode(texts[:64], batch_size=probe.batch_size)  # warm up threads and allocators

    direct, ours, hits, word_times = [], [], [], []
    for r in range(args.repeats):
        t = time.perf_counter()
        model.encode(texts, batch_size=probe.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        direct.append(time.perf_counter() - t)

        with tempfile.TemporaryDirectory() as tmp:
            emb = Embedder(cache=VectorCache(Path(tmp) / "e.sqlite"))
            emb._model = model  # same loaded weights: we time the wrapper, not a second load
            t = time.perf_counter()
            emb.encode(texts)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            emb.encode(texts)
            hits.append(time.perf_counter() - t)
            if r == 0:
                t = time.perf_counter()
                emb.word_vectors(words)
                word_times.append(time.perf_counter() - t)

    d, o, h = statistics.median(direct), statistics.median(ours), statistics.median(hits)
    n = len(texts)
    print(f"sentences: {n} (MatScholar train), model all-MiniLM-L6-v2, CPU, batch {probe.batch_size}, {args.repeats} runs")
    print(f"SentenceTransformer.encode : {n / d:8.1f} sentences/s  (median {d:.2f} s)")
    print(f"Embedder.encode, cold cache: {n / o:8.1f} sentences/s  (median {o:.2f} s, incl. cache writes)")
    print(f"overhead                   : {100 * (o - d) / d:+8.1f} %  (target < 10 %)")
    print(f"Embedder.encode, cache hit : {h * 1000:8.1f} ms for all {n}  ({d / h:.0f}x faster than encoding)")
    print(f"word vectors, cold cache   : {n / word_times[0]:8.1f} sentences/s")


if __name__ == "__main__":
    main()
