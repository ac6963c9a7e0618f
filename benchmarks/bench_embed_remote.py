"""Embedding client throughput against a local fake ``/v1/embeddings`` server.

The fault-injecting test server (``tests/fault_server.py``, 127.0.0.1)
answers each embeddings request with 384-wide made-up vectors, either at
once (what the client itself costs: JSON, HTTP, normalising) or after a
fixed delay per request (50 ms by default: a server busy computing, where
concurrency should pay). :class:`~allabel_core.vectors.remote.RemoteEmbedder`
embeds ``--n`` distinct sentences with the cache off, ``--batch`` texts per
request, at concurrency 1, 4 and 16. Prints the median sentences/s over
``--repeats`` runs, the most requests in flight the server saw, and the
ratio against concurrency 1.

    .venv/bin/python benchmarks/bench_embed_remote.py [--n 4096] [--batch 32] [--delay 0.05] [--repeats 3]
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

from fault_server import FaultServer  # noqa: E402

from allabel_core.vectors.remote import RemoteEmbedder  # noqa: E402


def one_run(texts, *, batch: int, concurrency: int, delay: float) -> tuple[float, int]:
    with FaultServer(model="bench-embed") as server:
        server.embed_dim = 384
        server.embed_delay = delay
        emb = RemoteEmbedder(server.url, "bench-embed", batch_size=batch, concurrency=concurrency, cache=False)
        emb.dim  # the one probe request is not timed
        server.max_in_flight = 0
        t = time.perf_counter()
        vecs = emb.encode(texts)
        dt = time.perf_counter() - t
        assert vecs.shape == (len(texts), 384)
        return len(texts) / dt, server.max_in_flight


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    texts = [f"Sentence {i}: the films of compound {i % 97} were annealed at {300 + i % 400} K." for i in range(args.n)]
    print(f"load average at start {os.getloadavg()[0]:.1f}; {args.n} sentences, {args.batch} per request")
    for delay in (0.0, args.delay):
        base = None
        for conc in (1, 4, 16):
            runs = [one_run(texts, batch=args.batch, concurrency=conc, delay=delay) for _ in range(args.repeats)]
            rate = statistics.median(r for r, _ in runs)
            base = base or rate
            print(f"server delay {delay * 1000:4.0f} ms, concurrency {conc:2d}: {rate:8.0f} sentences/s "
                  f"(most in flight {max(m for _, m in runs)}), {rate / base:4.1f}x concurrency 1")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
