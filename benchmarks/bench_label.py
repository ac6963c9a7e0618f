"""From a label action to the span being durable, and a label click through the page.

1. Store: on a project made from the sample corpus, time ``add_span`` +
   ``confirm`` (each its own committed transaction, ``synchronous=FULL``, so
   the span is on disk when the call returns), then time until a second,
   independent connection sees it. Median and p95 over ``--n`` actions.
2. Page: AppTest on ``pages/2_Label.py``: select a word and click a type
   button, then confirm; median script round trip per click (what the
   server spends; the browser adds its own render time).

    .venv/bin/python benchmarks/bench_label.py [--n 200] [--clicks 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from allabel_core.project import Project, create_sample_project  # noqa: E402


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1e3:.2f} ms, p95 {xs[int(0.95 * (len(xs) - 1))] * 1e3:.2f} ms"


def first_word(sentence) -> tuple[int, int]:
    tok = next(t for t in sentence.tokens if t.text.isalnum())
    return tok.start, tok.end


def bench_store(folder: Path, n: int) -> None:
    p = create_sample_project(folder)
    reader = Project.open(p.path)  # a second connection, as another process would have
    ids = p.pool_ids()[:n]
    label = p.schema.names[0]
    action, visible, undo = [], [], []
    for sid in ids:
        a, b = first_word(p.sentence(sid))
        t0 = time.perf_counter()
        p.labels.add_span(sid, a, b, label)
        p.labels.confirm(sid)
        t1 = time.perf_counter()
        assert reader.labels.state(sid) == "confirmed" and reader.labels.spans(sid)
        t2 = time.perf_counter()
        action.append(t1 - t0)
        visible.append(t2 - t0)
    for _ in range(min(50, len(ids))):
        t0 = time.perf_counter()
        p.labels.undo()
        undo.append(time.perf_counter() - t0)
    print(f"store ({len(p)} pool sentences, {len(ids)} actions of add_span + confirm):")
    print(f"  action durable on return: {ms(action)}")
    print(f"  seen by a second connection: {ms(visible)}")
    print(f"  undo: {ms(undo)}")
    t0 = time.perf_counter()
    Project.open(p.path).pool()
    print(f"  reopen + pool() with labels: {(time.perf_counter() - t0) * 1e3:.0f} ms")


def bench_page(folder: Path, clicks: int) -> None:
    from streamlit.testing.v1 import AppTest

    p = create_sample_project(folder)
    p.selections.enqueue(p.pool_ids()[: clicks + 5])
    at = AppTest.from_file(str(ROOT / "pages" / "2_Label.py"), default_timeout=60)
    at.session_state["project_path"] = str(p.path)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    label_clicks, confirm_clicks = [], []
    for _ in range(clicks):
        sid = at.session_state["current_id"]
        sentence = p.sentence(sid)
        i = next(i for i, t in enumerate(sentence.tokens) if t.text.isalnum())
        at.button_group(key=f"label_words_{sid}").set_value([i])
        t0 = time.perf_counter()
        at.button(key=f"label_type_{p.schema.names[0]}").click().run()
        label_clicks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        at.button(key="label_confirm").click().run()
        confirm_clicks.append(time.perf_counter() - t0)
        assert p.labels.state(sid) == "confirmed"
    print(f"page (AppTest, {clicks} sentences): first run {first * 1e3:.0f} ms")
    print(f"  type click (select + add span): {ms(label_clicks)}")
    print(f"  confirm & next click: {ms(confirm_clicks)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--clicks", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_store(Path(tmp) / "store", args.n)
        bench_page(Path(tmp) / "page", args.clicks)


if __name__ == "__main__":
    main()
