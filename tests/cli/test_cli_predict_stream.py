"""``allabel predict`` over a file, a chunk at a time: an interrupted run
(Ctrl-C, or the process killed) leaves whole records, and the same command
resumes it, asking only what was not answered, to the very output an
uninterrupted run writes; another predictor is refused; progress shows the
rate and the time left; memory does not grow with the file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from fakes import DEMOS, FakePredictor, HashEmbedder, make_sentence

from allabel_core.cli import main
from allabel_core.formats import write_corpus
from allabel_core.predictors import llm as llm_module

ROOT = Path(__file__).resolve().parents[2]
MATERIALS = ["TiO2", "ZnO", "LiFePO4", "Graphene", "Fe3O4", "MoS2"]
N, CHUNK = 48, 8


def query(i: int):
    mat = MATERIALS[i % len(MATERIALS)]
    text = f"Sample {i} of {mat} showed a high capacity after step {i % 5}."
    return (f"s{i:03d}", text, [(mat, "MAT"), ("capacity", "PRO")])


QUERY_TEXTS = {query(i)[1]: query(i)[2] for i in range(N)}


def answer(body: dict) -> str:
    """The materials of the query sentence (never its property: the scores are not perfect)."""
    if "messages" not in body:
        return ""  # an embedding request: its vectors are the server's own
    last = body["messages"][-1]["content"]
    ents = next(e for t, e in QUERY_TEXTS.items() if t in last)
    return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in ents if lab == "MAT"]})


@pytest.fixture
def stream_files(tmp_path, monkeypatch, fault_server):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    labeled, data = tmp_path / "labeled.jsonl", tmp_path / "data.jsonl"
    write_corpus([make_sentence(*d) for d in DEMOS], labeled, "spacy")
    write_corpus([make_sentence(*query(i)) for i in range(N)], data, "spacy")
    fault_server.default_answer = answer
    return labeled, data, tmp_path


def command(files, server, out, *extra):
    labeled, data, _ = files
    return [
        "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--predictor", "openai",
        "--base-url", server.url, "--model", "fault-model", "--max-retries", "0", "--k", "2", "--no-cache",
        "--chunk", str(CHUNK), "--embedder", "openai", "--embed-base-url", server.url, "--embed-model", "embed",
        *extra,
    ]


def asked(server) -> int:
    return len(server.chat_requests())


def interrupt_on_call(monkeypatch, n: int) -> None:
    """The predictor's ``n``-th chunk raises KeyboardInterrupt (Ctrl-C)."""
    real = llm_module.LlmPredictor.predict
    calls = [0]

    def predict(self, *a, **kw):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(llm_module.LlmPredictor, "predict", predict)


def reference(files, server, capsys) -> tuple[bytes, str]:
    ref = files[2] / "reference.jsonl"
    assert main(command(files, server, ref)) == 0
    err = capsys.readouterr().err
    return ref.read_bytes(), next(line for line in err.splitlines() if "F1" in line)


def test_an_interrupted_run_resumes_asking_only_the_rest_to_the_same_output(stream_files, fault_server, capsys,
                                                                           monkeypatch):
    ref, ref_scores = reference(stream_files, fault_server, capsys)
    out = stream_files[2] / "out.jsonl"
    interrupt_on_call(monkeypatch, 3)
    assert main(command(stream_files, fault_server, out)) == 130
    err = capsys.readouterr().err
    assert "interrupted after 16 of 48 sentences" in err and "run the same command again" in err
    written = out.read_text(encoding="utf-8").splitlines()
    assert len(written) == 2 * CHUNK and all(json.loads(line)["meta"]["outcome"] == "ok" for line in written)
    assert json.loads((stream_files[2] / "out.run.json").read_text())["finished"] is False
    monkeypatch.undo()
    fault_server.default_answer = answer
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out)) == 0
    err = capsys.readouterr().err
    assert asked(fault_server) - before == N - 2 * CHUNK  # the answered ones were not asked again
    assert "resuming the interrupted run" in err and "16 of 48 sentences answered there are kept" in err
    assert out.read_bytes() == ref  # what an uninterrupted run writes, byte for byte
    assert ref_scores in err  # scores over all 48, the kept ones read back from the output
    assert json.loads((stream_files[2] / "out.run.json").read_text())["finished"] is True
    # A finished output is replaced by the next run, as before: everything is predicted again.
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out)) == 0
    assert asked(fault_server) - before == N and "resuming" not in capsys.readouterr().err


def test_a_killed_process_leaves_whole_records_and_the_rerun_finishes_them(stream_files, fault_server, capsys):
    ref, _ = reference(stream_files, fault_server, capsys)
    out = stream_files[2] / "killed.jsonl"
    plain = fault_server._next
    fault_server._next = lambda body: ("after", 0.05, plain(body)) if "messages" in body else plain(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    start = asked(fault_server)
    proc = subprocess.Popen([sys.executable, "-m", "allabel_core", *command(stream_files, fault_server, out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while asked(fault_server) - start < 2 * CHUNK + 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait(30)
    assert proc.returncode == -9, proc.stderr.read().decode()
    fault_server._next = plain
    lines = out.read_bytes().split(b"\n")
    whole = [json.loads(line) for line in lines if line.strip()]  # every complete line is a record
    assert lines[-1] == b""  # and nothing cut: chunks are written whole
    assert len(whole) % CHUNK == 0 and 2 * CHUNK <= len(whole) < N
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out)) == 0
    assert asked(fault_server) - before == N - len(whole)
    assert out.read_bytes() == ref


def test_a_cut_last_record_is_dropped_and_asked_again(stream_files, fault_server, capsys, monkeypatch):
    ref, _ = reference(stream_files, fault_server, capsys)
    out = stream_files[2] / "out.jsonl"
    interrupt_on_call(monkeypatch, 3)
    assert main(command(stream_files, fault_server, out)) == 130
    monkeypatch.undo()
    fault_server.default_answer = answer
    body = out.read_bytes()
    out.write_bytes(body[:-9])  # the last record cut short, as by a crash in the middle of its write
    capsys.readouterr()
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out)) == 0
    assert asked(fault_server) - before == N - 2 * CHUNK + 1
    assert out.read_bytes() == ref


def test_failures_of_the_interrupted_part_are_asked_again_and_the_order_kept(stream_files, fault_server, capsys,
                                                                             monkeypatch):
    ref, _ = reference(stream_files, fault_server, capsys)
    out = stream_files[2] / "out.jsonl"
    fault_server.on(query(3)[1], ("status", 500, {}, {"error": {"message": "boom"}}))
    interrupt_on_call(monkeypatch, 3)
    assert main(command(stream_files, fault_server, out)) == 130
    assert [json.loads(x)["meta"]["outcome"] for x in out.read_text().splitlines()].count("failed") == 1
    monkeypatch.undo()
    fault_server.default_answer = answer
    capsys.readouterr()
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out)) == 0
    assert "(1 that did not succeed are asked again)" in capsys.readouterr().err
    assert asked(fault_server) - before == N - 2 * CHUNK + 1
    assert out.read_bytes() == ref  # s003 is back in its place
    assert not (stream_files[2] / "out.failed.jsonl").exists()


def test_another_predictor_is_refused_until_restart(stream_files, fault_server, capsys, monkeypatch):
    out = stream_files[2] / "out.jsonl"
    interrupt_on_call(monkeypatch, 2)
    assert main(command(stream_files, fault_server, out)) == 130
    monkeypatch.undo()
    fault_server.default_answer = answer
    body = out.read_bytes()
    capsys.readouterr()
    before = asked(fault_server)
    assert main(command(stream_files, fault_server, out, "--k", "1")) == 2
    err = capsys.readouterr().err
    assert "holds an interrupted run made with other a predictor or predictor parameters" in err
    assert "--restart" in err and out.read_bytes() == body and asked(fault_server) == before
    assert main(command(stream_files, fault_server, out, "--retry-failed")) == 2
    assert "was interrupted: run the same command without --retry-failed" in capsys.readouterr().err
    assert main(command(stream_files, fault_server, out, "--k", "1", "--restart")) == 0
    assert asked(fault_server) - before == N and "resuming" not in capsys.readouterr().err


def test_a_format_written_whole_keeps_the_old_output_when_interrupted(stream_files, fault_server, capsys, monkeypatch):
    out = stream_files[2] / "out.conll"
    out.write_text("old\tO\n", encoding="utf-8")
    interrupt_on_call(monkeypatch, 3)
    assert main(command(stream_files, fault_server, out)) == 130
    assert "out.conll was not written" in capsys.readouterr().err
    assert out.read_text() == "old\tO\n" and sorted(p.name for p in out.parent.glob(".out.conll*")) == []
    monkeypatch.undo()
    fault_server.default_answer = answer
    assert main(command(stream_files, fault_server, out)) == 0
    assert out.read_text().count("B-MAT") == N


def test_progress_shows_done_total_rate_and_time_left(stream_files, fault_server, capsys):
    out = stream_files[2] / "out.jsonl"
    assert main(command(stream_files, fault_server, out)) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("predicting: ")]
    assert re.fullmatch(r"predicting: \d+ of 48 · [\d.]+ sentences/s · ~\d+ s left", lines[0]), lines[0]
    assert re.fullmatch(r"predicting: 48 of 48 · [\d.]+ sentences/s · ~0 s left", lines[-1]), lines[-1]


def test_bad_input_far_into_the_file_changes_nothing(stream_files, fault_server, capsys):
    labeled, data, tmp = stream_files
    big = tmp / "big.jsonl"
    lines = [json.dumps({"id": f"t{i}", "text": f"Sample {i} of TiO2."}) for i in range(3000)]
    lines[2500] = '{"id": "t2500", "text": "broken'
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / "out.jsonl"
    assert main(command((labeled, big, tmp), fault_server, out)) == 2
    err = capsys.readouterr().err
    assert "big.jsonl" in err and "line 2501" in err and "invalid JSON" in err
    assert not out.exists() and not (tmp / "out.run.json").exists() and asked(fault_server) == 0


def _peak_predicting(tmp: Path, n: int, monkeypatch) -> int:
    """Peak traced memory of ``allabel predict`` over ``n`` sentences, with
    a fake predictor and embedder (the streaming, not the model, measured)."""
    from allabel_core.cli import predict_cmd

    data = tmp / f"data-{n}.txt"
    with open(data, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(f"Sample {i} of LiFePO4 was grown on TiO2 at {i % 900} K and the band gap was measured.\n")
    labeled = tmp / "labeled.jsonl"
    write_corpus([make_sentence(*d) for d in DEMOS], labeled, "spacy")
    monkeypatch.setattr(predict_cmd, "build_predictor", lambda *a, **kw: FakePredictor())
    monkeypatch.setattr(predict_cmd, "embedder_from_args", lambda args: HashEmbedder())
    tracemalloc.start()
    try:
        assert main(["predict", "--labeled", str(labeled), "--data", str(data), "--out", str(tmp / f"out-{n}.jsonl"),
                     "--chunk", "256"]) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path, monkeypatch, capsys):
    _peak_predicting(tmp_path, 300, monkeypatch)  # what the first run imports is not the file's
    small = _peak_predicting(tmp_path, 4000, monkeypatch)
    large = _peak_predicting(tmp_path, 16000, monkeypatch)
    out = (tmp_path / "out-16000.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(out) == 16000 and json.loads(out[-1])["id"] == "line-16000"
    # Holding the sentences and predictions grows ~4.7 kB a sentence
    # (measured: 19 -> 76 MB before streaming); streamed, what grows is the
    # ids (one set, for duplicates and resuming) and the order of the file,
    # ~170 bytes a sentence (2.9 -> 4.9 MB, with readers that yield).
    assert (large - small) / 12000 < 500, (small, large)
