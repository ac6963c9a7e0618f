"""How cheap a BM25 index is: build, cache and query at 100,000 sentences.

    python benchmarks/bench_bm25.py                 # 100,000 sentences
    python benchmarks/bench_bm25.py --n 20000 --repeats 5

The corpus is every sentence of MatScholar, BC5CDR and WNUT-17 (train, dev
and test: 25,087), repeated with a marker word per copy until ``--n``
sentences (so each is a distinct document; the vocabulary is the datasets').
Prints medians over ``--repeats`` of: tokenizing (science terms), indexing
with bm25s, a cold build (both, nothing cached), saving to the cache, a warm
load from the disk cache, a hit in memory, and 1,000 top-5 queries; plus the
index's size on disk. Uses a temporary cache folder, never yours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets"))


def corpus(n: int) -> list[str]:
    from allabel_core.formats import read_corpus

    base = [t for name in ("matscholar", "bc5cdr", "wnut17") for split in ("train", "dev", "test")
            for t in read_corpus(DATA / name / f"{split}.jsonl").texts]
    out, copy = [], 0
    while len(out) < n:
        out.extend(f"{t} copy{copy}" for t in base[: n - len(out)])
        copy += 1
    return out


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["ALLABEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-bm25-")
    import bm25s

    from allabel_core.retrieval import bm25 as B
    from allabel_core.retrieval.terms import terms

    texts = corpus(args.n)
    print(f"{len(texts):,} sentences, {sum(len(t) for t in texts) / 1e6:.1f} M characters; "
          f"bm25s {bm25s.__version__}; load average {os.getloadavg()[0]:.1f}")
    t_tok, docs = median_time(lambda: [terms(t) for t in texts], args.repeats)

    def index():
        ix = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        ix.index(docs, show_progress=False)
        return ix

    t_index, _ = median_time(index, args.repeats)

    def cold():
        B._memo.clear()
        return B.Bm25Retriever(texts, cache=False)

    t_cold, retriever = median_time(cold, args.repeats)
    folder = Path(os.environ["ALLABEL_CACHE_DIR"]) / "bm25" / B.corpus_key(texts, k1=1.5, b=0.75)
    t_save, _ = median_time(lambda: B._save(retriever._index, folder), 1)
    size = sum(f.stat().st_size for f in folder.iterdir())

    def warm():
        B._memo.clear()
        r = B.Bm25Retriever(texts)
        assert r.source == "disk", r.source
        return r

    t_warm, _ = median_time(warm, args.repeats)
    t_memo, hit = median_time(lambda: B.Bm25Retriever(texts), args.repeats)
    assert hit.source == "memory"
    queries = texts[:: max(1, len(texts) // 1000)][:1000]
    t_query, _ = median_time(lambda: retriever.search(queries, None, 5), args.repeats)
    print(f"tokenize (science terms)     {t_tok:7.2f} s")
    print(f"bm25s index                  {t_index:7.2f} s")
    print(f"cold build (both)            {t_cold:7.2f} s   ({len(texts) / t_cold:,.0f} sentences/s)")
    print(f"save to the cache            {t_save:7.2f} s   ({size / 1e6:.1f} MB on disk)")
    print(f"warm load from disk          {t_warm:7.2f} s   ({t_cold / t_warm:.1f}x faster than a cold build)")
    print(f"hit in memory (key digest)   {t_memo:7.3f} s")
    print(f"1,000 top-5 queries          {t_query:7.2f} s   ({t_query:.2f} ms per query)")


if __name__ == "__main__":
    main()
