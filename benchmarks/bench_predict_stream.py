"""Streaming prediction at 10k and 100k sentences: peak memory, throughput,
and what resuming after a kill at 50 % costs.

What is measured, and with what:

1. ``allabel predict`` over N sentences (MatScholar's texts, cycled to N,
   as unlabelled JSONL), each run in its own process so its peak RSS is its
   own (``ru_maxrss`` from ``wait4``). The predictor is a fake with the
   shape of the real ones but next to no cost (a hashing embedder, dense
   retrieval of k=5 demonstrations with faiss, a lexicon tagger over the
   demonstrations' entities, a per-word uncertainty list in its details):
   so what is timed is the streaming itself — reading and checking the
   file, retrieval, writing — not a model. The same runs with the code as
   it was before streaming (``--before DIR``: a checkout of it) give the
   ratios against today.
2. Resume: the 100k run killed (SIGKILL) when half the output is written,
   then the same command again; its wall time against the uninterrupted
   run, and whether its output is byte-identical.
3. The real offline kNN predictor (MiniLM word vectors from the local
   model) on ``--knn`` sentences (default 1,000; 200 demonstrations), once
   streamed in chunks of 256 and once as one chunk, answers compared; its
   rate gives the time 100k would take (embedding dominates: ~100
   sentences/s on these two cores).
4. "Predict the rest" in a project of N sentences (1 % confirmed), the
   same fake predictor and embedder: planning plus predicting and storing
   in batches, peak RSS of that process (the project is built in another),
   killed at 50 % and resumed.

    nice -n 10 .venv/bin/python benchmarks/bench_predict_stream.py [--sizes 10000,100000] [--before DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")
MATSCHOLAR = DATASETS / "matscholar"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the fake predictor (used in the child processes) ---------------------------
class HashEmbedder:
    """Unit vectors from hashed words (no model): what retrieval needs, cheaply."""

    name = "bench-hash-embedder"
    dim = 64

    def encode(self, texts, *, progress=None):
        import numpy as np

        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[i, int(hashlib.blake2b(w.encode(), digest_size=4).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


class LexiconPredictor:
    """Retrieves k demonstrations (dense) and tags the words that are
    entities in them; a per-word uncertainty list in its details, as kNN's."""

    name = "bench lexicon predictor"
    ledger = None
    reads_whole_store = False
    k = 5

    def __init__(self, embedder):
        from allabel_core.retrieval import as_config

        self.embedder = embedder
        self.retriever = as_config("dense")

    def identity(self):
        return {"model": self.name, "base_url": ""}

    def params(self):
        return {"predictor": "bench", "k": self.k}

    def predict(self, demos, sentences, *, progress=None):
        from allabel_core.data.sentence import Span
        from allabel_core.predictors.base import Prediction

        sentences = list(sentences)
        vecs = self.embedder.encode([s.text for s in sentences])
        pos, sims = demos.retrieve(vecs, self.k, exclude=[s.id for s in sentences], retriever=self.retriever)
        out = []
        for s, row, sim in zip(sentences, pos, sims):
            lexicon = {sp.text: sp.label for p in row if p >= 0 for sp in demos.sentences[p].spans}
            spans = tuple(Span(t.start, t.end, lexicon[t.text], t.text, "suggested") for t in s.tokens if t.text in lexicon)
            out.append(Prediction(s.id, spans, 0.5, "bench", tuple(demos.ids[p] for p in row if p >= 0),
                                  tuple(float(x) for x in sim), details={"word_uncertainty": [0.5] * len(s.tokens)}))
        if progress:
            progress(len(out), len(out))
        return out


def report_peak() -> None:
    """At exit, this process's peak RSS (VmHWM, which exec resets, unlike
    ``ru_maxrss``, which counts the parent's pages before the exec)."""
    import atexit

    def say():
        with open("/proc/self/status") as f:
            hwm = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
        print(f"peak-rss-kb {hwm}", file=sys.stderr, flush=True)

    atexit.register(say)


def child_predict(argv: list[str]) -> None:
    """In a child process: ``allabel predict`` with the fake predictor."""
    from allabel_core.cli import main, predict_cmd

    predict_cmd.build_predictor = lambda name, embedder, **kw: LexiconPredictor(embedder)
    predict_cmd.embedder_from_args = lambda args: HashEmbedder()
    sys.exit(main(argv))


def child_rest(path: str, kill_at: int) -> None:
    """In a child process: predict the rest of a project, with the fake predictor."""
    from allabel_core.project import Project
    from allabel_core.project.rest import predict_rest

    embedder = HashEmbedder()
    with Project.open(path) as project:
        def progress(done, total, message):
            if total and done >= kill_at > 0:
                os.kill(os.getpid(), signal.SIGKILL)

        run = predict_rest(project, embedder, LexiconPredictor(embedder), progress=progress)  # batches of 32, the default
        print(json.dumps({"predicted": run.predicted, "kept": run.kept, "seconds": run.seconds}))


def child_build(path: str, n: int, confirmed: int) -> None:
    from allabel_core.data.corpus import Corpus
    from allabel_core.data.sentence import Sentence
    from allabel_core.project import Project

    gold = texts_with_gold()
    pool = [gold[i % len(gold)] for i in range(n)]
    sentences = [Sentence.from_text(f"p{i:06d}", s.text) for i, s in enumerate(pool)]
    project = Project.create(path, Corpus(sentences), schema=sorted({sp.label for s in gold for sp in s.spans}))
    ids = project.pool_ids()
    for sid, g in zip(ids[:confirmed], pool[:confirmed]):
        for sp in g.spans:
            project.labels.add_span(sid, sp.start, sp.end, sp.label)
        project.labels.confirm(sid)
    project.close()


def texts_with_gold():
    """MatScholar's sentences (train, dev, test) with their gold spans."""
    from allabel_core.formats import read_corpus

    return [s for split in ("train", "dev", "test") for s in read_corpus(MATSCHOLAR / f"{split}.jsonl")]


# -- the parent -----------------------------------------------------------------
def run_child(args: list[str], pythonpath: Path, *, kill_when=None) -> dict:
    """Run this script as a child; returns wall seconds, peak RSS (MB), exit code."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, *args], env=env, stdout=out, stderr=err)
        if kill_when is not None:
            while proc.poll() is None and not kill_when():
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        proc.wait()
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    peak = re.findall(r"peak-rss-kb (\d+)", stderr)
    return {"seconds": seconds, "rss_mb": int(peak[-1]) / 1024 if peak else float("nan"), "code": proc.returncode,
            "stdout": stdout, "stderr": stderr}


def lines_in(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def write_data(tmp: Path, n: int) -> tuple[Path, Path]:
    gold = texts_with_gold()
    data = tmp / f"data-{n}.jsonl"
    with open(data, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"s{i:06d}", "text": gold[200 + i % (len(gold) - 200)].text}) + "\n")
    labeled = tmp / "labeled.jsonl"
    if not labeled.exists():
        from allabel_core.formats import write_corpus

        write_corpus(gold[:200], labeled, "spacy")
    return labeled, data


def predict_args(labeled: Path, data: Path, out: Path) -> list[str]:
    return ["predict-child", "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out)]


def bench_cli(tmp: Path, sizes: list[int], before: Path | None) -> None:
    print(f"\n1. allabel predict, fake predictor (streaming cost only); load {load()}")
    results = {}
    for n in sizes:
        labeled, data = write_data(tmp, n)
        for label, path in (("streamed", ROOT), ("before", before)):
            if path is None:
                continue
            out = tmp / f"out-{label}-{n}.jsonl"
            r = run_child(predict_args(labeled, data, out), path)
            assert r["code"] == 0, r["stderr"][-2000:]
            results[(label, n)] = r
            print(f"  {label:8s} N={n:>7,}: {r['seconds']:6.1f} s wall, {n / r['seconds']:7.0f} sentences/s, "
                  f"peak RSS {r['rss_mb']:6.0f} MB; load {load()}")
    small, large = min(sizes), max(sizes)
    for label in ("streamed", "before"):
        if (label, small) in results and (label, large) in results:
            a, b = results[(label, small)], results[(label, large)]
            print(f"  {label}: peak RSS x{b['rss_mb'] / a['rss_mb']:.2f} from {small:,} to {large:,} sentences "
                  f"(x{large / small:.0f} the file)")
    if ("before", large) in results:
        a, b = results[("before", large)], results[("streamed", large)]
        print(f"  at {large:,}: streamed/before wall x{b['seconds'] / a['seconds']:.2f}, "
              f"peak RSS x{b['rss_mb'] / a['rss_mb']:.2f}")
    if ("streamed", large) in results:
        bench_resume(tmp, large, results[("streamed", large)])


def bench_resume(tmp: Path, n: int, full: dict) -> None:
    labeled, data = write_data(tmp, n)
    out = tmp / f"out-killed-{n}.jsonl"
    killed = run_child(predict_args(labeled, data, out), ROOT, kill_when=lambda: lines_in(out) >= n // 2)
    at = lines_in(out)
    again = run_child(predict_args(labeled, data, out), ROOT)
    assert again["code"] == 0, again["stderr"][-2000:]
    same = out.read_bytes() == (tmp / f"out-streamed-{n}.jsonl").read_bytes()
    resumed = re.search(r"resuming.*", again["stderr"])
    print(f"\n2. resume after SIGKILL at {at:,} of {n:,} written (exit {killed['code']}, after {killed['seconds']:.1f} s): "
          f"the rerun took {again['seconds']:.1f} s against {full['seconds']:.1f} s uninterrupted "
          f"(x{again['seconds'] / full['seconds']:.2f}), peak RSS {again['rss_mb']:.0f} MB; output identical: {same}")
    print(f"   {resumed.group(0) if resumed else '(no resume line)'}; load {load()}")


def bench_knn(tmp: Path, n: int) -> None:
    from allabel_core.predictors.base import DemoStore
    from allabel_core.predictors.knn import KnnPredictor
    from allabel_core.vectors.embed import Embedder

    os.environ["ALLABEL_CACHE_DIR"] = str(tmp / "cache-knn")
    gold = texts_with_gold()
    demos_in, queries = gold[:200], [s.with_spans([]) for s in gold[200:200 + n]]
    embedder = Embedder()
    predictor = KnnPredictor(embedder)
    demos = DemoStore.from_sentences(demos_in, embedder)
    predictor.predict(demos, [gold[-1].with_spans([])])  # the model loaded, the demonstrations' word vectors made
    t0 = time.perf_counter()
    chunked = [p for lo in range(0, n, 256) for p in predictor.predict(demos, queries[lo:lo + 256])]
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = predictor.predict(demos, queries)
    warm = time.perf_counter() - t0
    same = [(p.spans, round(p.uncertainty, 9)) for p in chunked] == [(p.spans, round(p.uncertainty, 9)) for p in whole]
    print(f"\n3. offline kNN predictor (local MiniLM), {n:,} sentences, 200 demonstrations; load {load()}")
    print(f"   chunks of 256, model loaded, queries' vectors not cached: {cold:.1f} s ({n / cold:.1f} sentences/s) -> 100,000 would take "
          f"~{100_000 / (n / cold) / 60:.0f} min; one chunk, vectors cached: {warm:.1f} s ({n / warm:.1f}/s); "
          f"same answers chunked and whole: {same}")


def bench_rest(tmp: Path, n: int, before: Path | None) -> None:
    path = tmp / f"rest-{n}.allabel"
    built = run_child(["build-child", str(path), str(n), str(max(1, n // 100))], ROOT)
    assert built["code"] == 0, built["stderr"][-2000:]
    print(f"\n4. predict the rest, project of {n:,} sentences, {n // 100:,} confirmed (built in {built['seconds']:.0f} s, "
          f"peak RSS {built['rss_mb']:.0f} MB); load {load()}")
    copy = tmp / f"rest-{n}-killed.allabel"
    copy.write_bytes(path.read_bytes())
    full = run_child(["rest-child", str(path), "0"], ROOT)
    assert full["code"] == 0, full["stderr"][-2000:]
    got = json.loads(full["stdout"].strip().splitlines()[-1])
    print(f"   uninterrupted: {full['seconds']:.1f} s wall ({got['predicted']:,} predicted, "
          f"{got['predicted'] / full['seconds']:.0f} sentences/s), peak RSS {full['rss_mb']:.0f} MB")
    if before is not None:
        old = tmp / f"rest-{n}-before.allabel"
        old.write_bytes(copy.read_bytes())
        was = run_child(["rest-child", str(old), "0"], before)
        assert was["code"] == 0, was["stderr"][-2000:]
        print(f"   before streaming: {was['seconds']:.1f} s wall, peak RSS {was['rss_mb']:.0f} MB "
              f"(streamed/before: wall x{full['seconds'] / was['seconds']:.2f}, peak RSS x{full['rss_mb'] / was['rss_mb']:.2f})")
    rest = n - n // 100
    killed = run_child(["rest-child", str(copy), str(rest // 2)], ROOT)
    again = run_child(["rest-child", str(copy), "0"], ROOT)
    assert again["code"] == 0, again["stderr"][-2000:]
    got2 = json.loads(again["stdout"].strip().splitlines()[-1])
    print(f"   killed at {rest // 2:,} (exit {killed['code']}, {killed['seconds']:.1f} s), rerun: {again['seconds']:.1f} s, "
          f"{got2['predicted']:,} predicted, {got2['kept']:,} kept, peak RSS {again['rss_mb']:.0f} MB; load {load()}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].endswith("-child"):
        report_peak()
    if len(sys.argv) > 1 and sys.argv[1] == "predict-child":
        return child_predict(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "rest-child":
        return child_rest(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "build-child":
        return child_build(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000", help="sentences for parts 1, 2 and 4 (comma-separated)")
    ap.add_argument("--before", type=Path, help="a checkout of the code before streaming, for the ratios")
    ap.add_argument("--knn", type=int, default=1000, help="sentences for the kNN part (0: skip)")
    ap.add_argument("--skip-rest", action="store_true")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"load average at start: {load()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_cli:
            bench_cli(tmp, sizes, args.before)
        if args.knn:
            bench_knn(tmp, args.knn)
        if not args.skip_rest:
            for n in sizes:
                bench_rest(tmp, n, args.before)
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
