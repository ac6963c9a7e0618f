"""A 100k-sentence project end to end: create, embed, lay out, Label page, Entities page, queue.

    nice -n 10 .venv/bin/python benchmarks/bench_project_scale.py              # 100,000 sentences
    nice -n 10 .venv/bin/python benchmarks/bench_project_scale.py --n 20000 --skip-layout
    nice -n 10 .venv/bin/python benchmarks/bench_project_scale.py --work DIR --only layout   # on an earlier run's projects

The corpus is made here: MatScholar's train split (``--data``), sentence i
built from train sentence i mod 4,402 with each single-token material
replaced by a material drawn from the split's vocabulary and each number by
a random one (seeded), so sentences repeat in shape but rarely in text, as
abstracts of one field do. It is written twice into the work folder: as
plain text (one sentence per line, the usual unlabelled pool) and as
tokens/tags JSONL with the gold tags (a gold-labelled pool).

Each step runs in a process of its own, so each peak memory (``ru_maxrss``
of that process, and above what its imports cost) is the step's alone:

- ``create``: ``allabel project new`` from each file (read as a stream,
  written in batches);
- ``embed``: the pool through :class:`~allabel_core.vectors.remote.RemoteEmbedder`
  against the fake ``/v1/embeddings`` server of the tests
  (``tests/fault_server.py``, in its own process on ``--port``: instant
  answers, 384-wide vectors seeded by each text's hash), batches of 64, 4 in
  flight, into a vector cache of the work folder; then again from the cache;
- ``layout``: :func:`~allabel_core.project.tasks.compute_map` (faiss
  neighbours, UMAP, stored in the project), from the cached vectors;
- ``label``: the Label page (``pages/2_Label.py`` under Streamlit's
  ``AppTest``) opened on the project with 5,000 sentences queued, 1,000 of
  them confirmed and every sentence carrying a stored "predict the rest"
  prediction: first open in a fresh process, then the median of later
  opens (new sessions of a warm server) and of reruns after a confirm;
  and the Home page (``app.py``) opened on the same project; beside them
  the Label page opened on a 50-sentence project, which is what AppTest
  itself costs a new session (it scans the installed packages for
  components each time), so the difference is what 100k sentences cost;
- ``entities``: the Entities page (AppTest) on the same project: the first
  open, which builds the export of every entity, the median of reruns
  (which keep it) and a rerun after a confirm (which builds it again);
- ``queue``: enqueueing 5,000 sentences, then the median of ``next_id``,
  ``queue()``, ``progress()`` and one confirm.

Prints each figure (medians over ``--repeats``) and the load average at the
start and the end. Run it niced, on a machine otherwise quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("ALLABEL_DATASETS", "/work/shared/datasets")) / "matscholar" / "train.jsonl"
SCHEMA = {"labels": [{"name": "MAT", "description": "a material"}, {"name": "PRO", "description": "a property"}]}
QUEUED, CONFIRMED = 5000, 1000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


# -- the corpus ----------------------------------------------------------------------
def write_corpus(src: Path, n: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """``pool.txt`` and ``pool.jsonl`` (tokens/tags, gold) of ``n`` sentences made from ``src``."""
    base = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)

    def single_mat(tags, k):
        return tags[k] == "B-MAT" and (k + 1 == len(tags) or tags[k + 1] != "I-MAT")

    materials = sorted({r["tokens"][k] for r in base for k in range(len(r["tags"])) if single_mat(r["tags"], k)})
    txt, jsonl = folder / "pool.txt", folder / "pool.jsonl"
    with txt.open("w", encoding="utf-8") as ft, jsonl.open("w", encoding="utf-8") as fj:
        for i in range(n):
            r = base[i % len(base)]
            tokens = list(r["tokens"])
            for k, tok in enumerate(tokens):
                if single_mat(r["tags"], k):
                    tokens[k] = rng.choice(materials)
                elif tok.replace(".", "", 1).isdigit():
                    tokens[k] = str(rng.randint(1, 999))
            ft.write(" ".join(tokens) + "\n")
            fj.write(json.dumps({"id": f"s{i}", "tokens": tokens, "tags": r["tags"]}, ensure_ascii=False) + "\n")
    return txt, jsonl


# -- the steps (each in its own process) ---------------------------------------------------
def step_create(work: Path, which: str) -> dict:
    from allabel_core.cli import main as cli
    from allabel_core.project import files  # noqa: F401 (its imports are not the step's)

    path = work / ("pool.txt" if which == "text" else "pool.jsonl")
    argv = ["project", "new", f"bench-{which}", "--data", str(path), "--projects-dir", str(work / "projects")]
    if which == "text":
        argv += ["--schema", str(work / "schema.json")]
    base = peak_mb()
    dt, rc = timed(lambda: cli(argv))
    assert rc == 0
    return {f"create from {path.name} ({path.stat().st_size / 2**20:.0f} MB)": dt,
            "peak above imports": peak_mb() - base, "peak of the process": peak_mb()}


def _embedder(url: str):
    from allabel_core.vectors.embed import VectorCache
    from allabel_core.vectors.remote import RemoteEmbedder

    return RemoteEmbedder(url, "bench-embed", batch_size=64, concurrency=4,
                          cache=VectorCache(Path(os.environ["ALLABEL_CACHE_DIR"]) / "embeddings.sqlite"))


def _project(work: Path, name: str = "bench-text"):
    from allabel_core.project import Project

    return Project.open(work / "projects" / f"{name}.allabel")


def step_embed(work: Path, url: str) -> dict:
    from allabel_core.project.tasks import pool_vectors

    p = _project(work)
    emb = _embedder(url)
    emb.dim  # the one probe request
    base = peak_mb()
    dt, vecs = timed(lambda: pool_vectors(p, emb))
    assert vecs.shape == (len(p), 384)
    first_peak = peak_mb()
    del vecs
    again, _ = timed(lambda: pool_vectors(p, _embedder(url)))
    return {"embed (fake server)": dt, "embedded sentences/s": len(p) / dt, "embed again (cached)": again,
            "peak above imports, embedding": first_peak - base, "peak above imports, from the cache": peak_mb() - base,
            "peak of the process": peak_mb()}


def step_layout(work: Path, url: str) -> dict:
    from allabel_core.project.tasks import compute_map

    p = _project(work)
    emb = _embedder(url)
    base = peak_mb()
    dt, xy = timed(lambda: compute_map(p, emb))
    assert xy.shape == (len(p), 2)
    return {"lay out (faiss + UMAP)": dt, "peak above imports": peak_mb() - base, "peak of the process": peak_mb()}


def fill(work: Path) -> None:
    """The labeling state of the Label page step: a queue, confirmed sentences, stored predictions."""
    from allabel_core.predictors.base import Prediction
    from allabel_core.project import Actor

    p = _project(work)
    ids = p.pool_ids()
    rng = random.Random(1)
    queued = rng.sample(ids, QUEUED)
    p.selections.record(queued, "diversity")
    me = Actor("bench", "bench")
    texts = p.pool_texts()
    for sid in queued[:CONFIRMED]:
        first = texts[sid].split(" ", 1)[0]
        p.labels.add_span(sid, 0, len(first), "MAT", actor=me)
        p.labels.confirm(sid, actor=me)
    prov = {"task": "predict-rest", "source": "bench", "predictor": "bench", "version": "1", "params": {},
            "n_confirmed": CONFIRMED}
    for lo in range(0, len(ids), 5000):
        p.records.save_predictions(
            [Prediction(sid, (), rng.random(), "knn-margin", (), (), None,
                        {"provenance": {**prov, "fingerprint": f"f{sid}"}}) for sid in ids[lo:lo + 5000]],
            "bench")
    p.close()


def step_label(work: Path, repeats: int) -> dict:
    from streamlit.testing.v1 import AppTest

    from allabel_core.project.annotate import apply_event

    path = str(work / "projects" / "bench-text.allabel")

    from allabel_core.project import create_project, read_input

    tiny = work / "projects" / "bench-tiny.allabel"
    if not tiny.exists():  # the same page on 50 sentences: what AppTest itself costs a new session
        lines = (work / "pool.txt").read_text(encoding="utf-8").splitlines()[:50]
        t = create_project("bench-tiny", read_input("\n".join(lines).encode(), "tiny.txt"), schema=SCHEMA,
                           projects_dir=work / "projects", unique=False)
        t.selections.record(t.pool_ids()[:10], "diversity")
        t.close()

    def open_page(script: str = "pages/2_Label.py", project: Path | str = path):
        at = AppTest.from_file(str(ROOT / script), default_timeout=600)
        at.session_state["project_path"] = str(project)
        at.session_state["annotator"] = "bench"
        at.run()
        assert not at.exception, at.exception
        if script.endswith("2_Label.py"):
            assert at.get("bidi_component"), "the annotator was not drawn"
        return at

    base = peak_mb()
    first, at = timed(open_page)
    opens = [timed(open_page)[0] for _ in range(repeats)]
    homes = [timed(lambda: open_page("app.py"))[0] for _ in range(repeats)]
    floor = [timed(lambda: open_page(project=tiny))[0] for _ in range(repeats)]
    reruns = []
    p = _project(work)
    from allabel_core.project import Actor

    for _ in range(repeats):
        shown = json.loads(at.get("bidi_component")[0].proto.json)
        apply_event(p, {"id": shown["ack"] + 1, "sid": shown["sid"], "rev": shown["rev"], "kind": "confirm"},
                    Actor("bench", "bench"))
        dt, _ = timed(at.run)
        reruns.append(dt)
    return {"Label page, first open (fresh process)": first, "Label page open (warm), median": statistics.median(opens),
            "Label page rerun after a confirm, median": statistics.median(reruns),
            "Home page open (warm), median": statistics.median(homes),
            "Label page open, 50-sentence project, median": statistics.median(floor),
            "peak above imports": peak_mb() - base, "peak of the process": peak_mb()}


def step_entities(work: Path, repeats: int) -> dict:
    """The Entities page on the filled project (1,000 confirmed, every other
    sentence predicted): the first open builds the export; reruns keep it
    until a label, prediction or type changes, as after a confirm."""
    from streamlit.testing.v1 import AppTest

    from allabel_core.project import Actor

    at = AppTest.from_file(str(ROOT / "pages/6_Entities.py"), default_timeout=600)
    at.session_state["project_path"] = str(work / "projects" / "bench-text.allabel")
    base = peak_mb()
    first, _ = timed(at.run)
    assert not at.exception, at.exception
    reruns = [timed(at.run)[0] for _ in range(repeats)]
    p = _project(work)
    sid = next(s for s in p.pool_ids() if p.labels.states().get(s) != "confirmed")
    p.labels.confirm(sid, actor=Actor("bench", "bench"))
    changed, _ = timed(at.run)
    return {"Entities page, first open (builds the export)": first, "Entities page rerun, median": statistics.median(reruns),
            "Entities page rerun after a confirm": changed,
            "peak above imports": peak_mb() - base, "peak of the process": peak_mb()}


def step_queue(work: Path, repeats: int) -> dict:
    from allabel_core.project import Actor

    p = _project(work, "bench-gold")
    ids = p.pool_ids()
    picks = random.Random(2).sample(ids, QUEUED)
    enqueue, _ = timed(lambda: p.selections.enqueue(picks))

    def med(fn):
        return statistics.median(timed(fn)[0] for _ in range(repeats))

    out = {"enqueue 5,000": enqueue, "next_id(), median": med(p.selections.next_id),
           "queue(), median": med(p.selections.queue), "progress(), median": med(p.progress)}
    me = Actor("bench", "bench")
    confirms = []
    for sid in picks[:repeats]:
        confirms.append(timed(lambda: (p.labels.confirm(sid, actor=me), p.selections.next_id(sid)))[0])
    out["confirm + next_id(), median"] = statistics.median(confirms)
    return out


# -- the run --------------------------------------------------------------------------------
def child(step: str, work: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ALLABEL_CACHE_DIR": str(work / "cache"),
           "ALLABEL_PROJECTS_DIR": str(work / "projects")}
    cmd = [sys.executable, __file__, "--step", step, "--work", str(work), "--port", str(args.port),
           "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"step {step} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve(port: int) -> subprocess.Popen:
    code = ("import sys, time; sys.path.insert(0, %r); from fault_server import FaultServer; "
            "s = FaultServer(model='bench-embed', port=%d); s.embed_dim = 384; print('ready', flush=True); "
            "time.sleep(10**6)") % (str(ROOT / "tests"), port)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit(f"the fake embedding server did not start on port {port}")
    return proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--port", type=int, default=8620, help="for the fake /v1/embeddings server (127.0.0.1)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-layout", action="store_true", help="leave out UMAP (minutes at 100k)")
    ap.add_argument("--work", help="work folder (default: a temporary one, removed after)")
    ap.add_argument("--only", metavar="STEPS",
                    help="run these steps (comma-separated, e.g. layout,label) on the projects of an earlier --work")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    args = ap.parse_args()
    url = f"http://127.0.0.1:{args.port}/v1"
    if args.step:
        work = Path(args.work)
        result = {"create-text": lambda: step_create(work, "text"), "create-gold": lambda: step_create(work, "gold"),
                  "embed": lambda: step_embed(work, url),
                  "layout": lambda: step_layout(work, url), "fill": lambda: fill(work) or {},
                  "label": lambda: step_label(work, args.repeats), "queue": lambda: step_queue(work, args.repeats),
                  "entities": lambda: step_entities(work, args.repeats),
                  }[args.step]()
        print(json.dumps(result))
        return

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="allabel-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    print(f"load average at start {os.getloadavg()[0]:.2f}; {args.n:,} sentences; work folder {work}")
    if not args.only:
        t, _ = timed(lambda: write_corpus(Path(args.data), args.n, work))
        print(f"corpus written in {t:.1f} s from {args.data}")
    server = serve(args.port)
    try:
        steps = ["create-text", "create-gold", "embed"] + ([] if args.skip_layout else ["layout"]) + ["fill", "label", "entities", "queue"]
        if args.only:
            steps = args.only.split(",")
        for step in steps:
            result = child(step, work, args)
            for name, value in result.items():
                if name.startswith("peak"):
                    print(f"  {step:<11} {name:<48} {value:10,.0f} MB")
                elif name.endswith("/s"):
                    print(f"  {step:<11} {name:<48} {value:10,.0f}")
                else:
                    print(f"  {step:<11} {name:<48} {value:10,.3f} s")
    finally:
        server.kill()
        server.wait()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
