"""Predict the rest: its quality against ``allabel predict``, and its speed.

1. The sample pool (``sample_data/pool.jsonl``) imported as plain text, its
   first 10 % of sentences imported as confirmed labels; "predict the rest"
   (the offline kNN predictor), the entity table exported with
   ``--include all``, and its predicted part scored (strict IOB2) against the
   sample's gold. The same labels given to ``allabel predict --labeled``
   over the other 90 % give the reference F1; the two are printed side by side.
2. Timings of predict-the-rest on the sample pool and on the first N
   MatScholar sentences (train, then dev, then test; default 5,000) from
   ``../shared/datasets``, first 10 % confirmed: a cold run (embeddings and
   word vectors not cached yet), a warm forced re-run (cached vectors), and
   a re-run after five more confirmed sentences (what "changed" refreshes).
   Medians over ``--repeats`` for the warm run; load average printed.

    .venv/bin/python benchmarks/bench_predict_rest.py [--matscholar 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def text_project(sentences, folder: Path, name: str, schema, share: float = 0.1):
    """A project from the sentences' text only, then the first ``share`` of
    them imported as confirmed labels (their gold spans)."""
    from allabel_core.data.corpus import Corpus
    from allabel_core.formats import read_corpus
    from allabel_core.project import Project

    txt = folder / f"{name}.txt"
    txt.write_text("".join(s.text + "\n" for s in sentences), encoding="utf-8")
    pool = read_corpus(txt)
    project = Project.create(folder / f"{name}.allabel", Corpus(list(pool)), schema=schema, name=name)
    n = max(1, round(share * len(sentences)))
    ids = project.pool_ids()
    labelled = list(sentences[:n])
    confirm(project, ids[:n], labelled)
    return project, labelled


def confirm(project, ids, gold) -> None:
    """Import labels: each gold sentence's spans become the person's, confirmed
    (matched by position: the text file holds the same sentences in order)."""
    for sid, g in zip(ids, gold):
        assert project.sentence(sid).text == g.text
        for sp in g.spans:
            project.labels.add_span(sid, sp.start, sp.end, sp.label)
        project.labels.confirm(sid)


def quality(tmp: Path) -> None:
    from allabel_core.cli import main
    from allabel_core.project.export import write_export
    from allabel_core.vectors.embed import Embedder
    from allabel_core.formats import read_corpus, write_corpus
    from allabel_core.predictors.knn import KnnPredictor
    from allabel_core.data.sentence import spans_to_tags
    from allabel_core.project.rest import predict_rest
    from allabel_core.scoring import evaluate

    import pandas as pd

    sample = ROOT / "sample_data"
    gold = list(read_corpus(sample / "pool.jsonl"))
    schema = __import__("json").loads((sample / "schema.json").read_text())
    project, labelled = text_project(gold, tmp, "sample-quality", schema)
    embedder = Embedder()
    run = predict_rest(project, embedder, KnnPredictor(embedder))
    out = tmp / "entities.csv"
    write_export(project, out, "all")
    table = pd.read_csv(out, keep_default_na=False, dtype={"sentence_id": str})
    ids = project.pool_ids()
    rest_pos = range(len(labelled), len(gold))
    by_id = {sid: [] for sid in ids}
    for r in table[table["source"] != "human"].itertuples():
        by_id[r.sentence_id].append((int(r.start), int(r.end), r.label))
    from allabel_core.data.sentence import Span

    pred_tags = [spans_to_tags(gold[i].tokens, [Span(a, b, lab, gold[i].text[a:b], "suggested")
                                                for a, b, lab in by_id[ids[i]]])[0] for i in rest_pos]
    ours = evaluate([gold[i].tags() for i in rest_pos], pred_tags)

    write_corpus(labelled, tmp / "labels.jsonl", "jsonl")
    write_corpus(gold[len(labelled):], tmp / "rest.jsonl", "jsonl")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["predict", "--labeled", str(tmp / "labels.jsonl"), "--data", str(tmp / "rest.jsonl"),
                     "--out", str(tmp / "predicted.jsonl")])
    line = next(x for x in err.getvalue().splitlines() if "F1" in x)
    print(f"sample pool as text, first {len(labelled)} of {len(gold)} sentences confirmed; {run.line()}")
    print(f"  export --include all, predicted part vs gold (strict IOB2): P {ours.precision:.3f} R {ours.recall:.3f} "
          f"F1 {ours.f1:.3f} ({ours.support} entities)")
    print(f"  allabel predict with the same labels (exit {code}): {line.split(': ', 1)[1]}")
    project.close()


def timings(tmp: Path, name: str, gold, schema, repeats: int) -> None:
    from allabel_core.predictors.knn import KnnPredictor
    from allabel_core.project.rest import predict_rest
    from allabel_core.vectors.embed import Embedder

    os.environ["ALLABEL_CACHE_DIR"] = str(tmp / f"cache-{name}")  # cold: nothing embedded yet
    embedder = Embedder()
    project, labelled = text_project(gold, tmp, name, schema)
    predictor = KnnPredictor(embedder)
    cold = predict_rest(project, embedder, predictor)
    print(f"{name}: {len(gold)} sentences, {len(labelled)} confirmed; load {load()}")
    print(f"  cold (empty vector cache, model load included): {cold.seconds:.1f} s for {cold.predicted} sentences "
          f"({cold.predicted / cold.seconds:.1f}/s)")
    warm = []
    for _ in range(repeats):
        warm.append(predict_rest(project, embedder, predictor, force=True).seconds)
    med = statistics.median(warm)
    print(f"  warm, forced (median of {repeats}): {med:.1f} s ({cold.predicted / med:.1f}/s); load {load()}")
    ids = project.pool_ids()
    n = len(labelled)
    confirm(project, ids[n:n + 5], gold[n:n + 5])
    again = predict_rest(project, embedder, predictor)
    print(f"  after 5 more confirmed: {again.line()}")
    same = predict_rest(project, embedder, predictor)
    print(f"  unchanged re-run: {same.line()}")
    project.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matscholar", type=int, default=5000, help="MatScholar sentences to time on (0: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    from allabel_core.formats import read_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["ALLABEL_CACHE_DIR"] = str(tmp / "cache-quality")
        print(f"load average at start: {load()}")
        if not args.skip_quality:
            quality(tmp)
        sample = ROOT / "sample_data"
        schema = __import__("json").loads((sample / "schema.json").read_text())
        timings(tmp, "sample", list(read_corpus(sample / "pool.jsonl")), schema, args.repeats)
        if args.matscholar:
            ms = DATASETS / "matscholar"
            gold = [s for split in ("train", "dev", "test") for s in read_corpus(ms / f"{split}.jsonl")][:args.matscholar]
            labels = sorted({sp.label for s in gold for sp in s.spans})
            timings(tmp, f"matscholar-{len(gold)}", gold, labels, args.repeats)


if __name__ == "__main__":
    main()
