"""Your own corpus into a project: creation, label import, type rename, sentence splitting.

    python benchmarks/bench_project_input.py              # MatScholar train (4,402 sentences)
    python benchmarks/bench_project_input.py --repeats 5

The pool is MatScholar's train split written as plain text (one sentence per
line, tokens joined by spaces), so the project starts with no types; the
labels imported are the first 10 % of the same split as tokens/tags JSONL
(matched by text). Prints the median of ``--repeats`` runs for each step and
sentences per second: ``Project`` creation from the text, importing the
labels (with their types added), renaming the most used type (it relabels
every span; then undo), and splitting paragraphs of five sentences each
back into sentences with pySBD.
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

from allabel_core.data.corpus import Corpus  # noqa: E402
from allabel_core.data.sentence import Sentence  # noqa: E402
from allabel_core.data.split import split_corpus  # noqa: E402
from allabel_core.formats import read_corpus  # noqa: E402
from allabel_core.project import create_project, read_input  # noqa: E402

DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets"))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA / "matscholar" / "train.jsonl"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    gold = read_corpus(args.data)
    txt = "".join(s.text + "\n" for s in gold).encode("utf-8")
    labels = gold[: len(gold) // 10]
    paragraphs = Corpus([Sentence.from_text(f"p{i}", " ".join(s.text for s in gold[i:i + 5]))
                         for i in range(0, len(gold), 5)])
    n = len(gold)
    rows: dict[str, list[float]] = {"create": [], "import": [], "rename+undo": [], "split": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            dt, p = timed(lambda: create_project("bench", read_input(txt, "pool.txt", max_bytes=None), projects_dir=tmp))
            rows["create"].append(dt)
            dt, report = timed(lambda: p.import_labels(labels, add_types=True))
            rows["import"].append(dt)
            top = max(p.schema.names, key=lambda t: p.types.usage(t)["confirmed"])
            dt, _ = timed(lambda: (p.types.rename(top, top + "_X"), p.labels.undo()))
            rows["rename+undo"].append(dt)
            p.close()
        dt, split = timed(lambda: split_corpus(paragraphs))
        rows["split"].append(dt)
    print(f"{args.data}: {n} sentences; labels: {len(labels)} sentences, {report.spans} spans "
          f"({report.matched_by_text} matched by text); {len(paragraphs)} paragraphs -> {len(split)} sentences")
    print(f"median of {args.repeats} runs; load average {os.getloadavg()[0]:.2f}")
    per = {"create": n, "import": len(labels), "rename+undo": report.spans, "split": len(paragraphs)}
    unit = {"create": "sentences", "import": "sentences", "rename+undo": "spans", "split": "paragraphs"}
    for step, times in rows.items():
        med = statistics.median(times)
        print(f"  {step:<12} {med * 1000:8.1f} ms   {per[step] / med:10,.0f} {unit[step]}/s")


if __name__ == "__main__":
    main()
