"""Creating a project from a big file: read as a stream, written in batches,
with progress; a bad line anywhere names file and line and leaves nothing."""

from __future__ import annotations

import json

import pytest

from allabel_core.cli import main
from allabel_core.data.corpus import Corpus, CorpusStream
from allabel_core.data.sentence import Sentence
from allabel_core.errors import DataFormatError, EmptyPoolError, SchemaError
from allabel_core.formats import read_corpus_bytes, stream_corpus_bytes
from allabel_core.project import Project, create_project, create_project_from_bytes, read_input
from allabel_core.project import db as db_mod

N = 5000


def text_file(n: int = N) -> bytes:
    return "".join(f"Sample {i} of LiFePO4 was annealed at {300 + i % 500} K.\n" for i in range(n)).encode()


def tokens_file(n: int = N) -> bytes:
    rows = [{"id": f"s{i}", "tokens": ["LiFePO4", "film", str(i)], "tags": ["B-MAT", "O", "O"]} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def nothing_left(folder) -> bool:
    return not folder.exists() or list(folder.iterdir()) == []


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(db_mod, "BUILD_BATCH", 500)
    return 500


def test_stream_is_read_and_written_a_batch_at_a_time(tmp_path, small_batches):
    stream = stream_corpus_bytes(text_file(), "pool.txt")
    produced = []
    items = stream.numbered()

    def counting():
        for item in items:
            produced.append(item[0])
            yield item

    counted = CorpusStream(counting(), source=stream.source, format=stream.format, lines=stream.lines)
    calls = []

    def progress(done: int, total: int) -> None:
        # Writing keeps up with reading: at each batch, no more than one batch was read ahead.
        calls.append((done, total, len(produced)))

    p = Project.create(tmp_path / "p.allabel", counted, progress=progress)
    assert len(p) == N and p.pool_ids()[:2] == ["line-1", "line-2"]
    assert p.sentence("line-3").text == "Sample 2 of LiFePO4 was annealed at 302 K."
    assert [c[0] for c in calls] == [500 * k for k in range(1, N // 500 + 1)] + [N]  # lines of the file read
    assert all(total == N for _, total, _ in calls)
    assert all(read == done for done, _, read in calls[:-1])
    assert p.settings["budget"] == N // 10


def test_a_corpus_in_memory_reports_sentences(tmp_path, small_batches):
    pool = Corpus([Sentence.from_text(f"s{i}", f"Sentence {i}.") for i in range(1200)])
    calls = []
    Project.create(tmp_path / "c.allabel", pool, progress=lambda d, t: calls.append((d, t))).close()
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)]


def test_streamed_project_holds_what_the_in_memory_one_holds(tmp_path, small_batches):
    data = tokens_file(1300)
    streamed = create_project_from_bytes("a", data, "pool.jsonl", projects_dir=tmp_path)
    whole = create_project("b", read_input(data, "pool.jsonl"), projects_dir=tmp_path)
    assert streamed.schema.names == whole.schema.names == ["MAT"]
    assert [(s.id, s.text, s.spans) for s in streamed.gold()] == [(s.id, s.text, s.spans) for s in whole.gold()]
    assert streamed.progress() == whole.progress()


def test_progress_covers_pool_and_target(tmp_path, small_batches):
    calls = []
    create_project_from_bytes("t", text_file(1000), "pool.txt", target=(tokens_file(700), "test.jsonl"),
                              projects_dir=tmp_path, progress=lambda d, t: calls.append((d, t))).close()
    assert calls[-1] == (1700, 1700) and calls[0] == (500, 1700)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("name, data, line, why", [
    ("pool.jsonl", tokens_file().replace(b'"id": "s4321"', b'"id": "s4321", ', 1), 4322, "invalid JSON"),
    ("pool.jsonl", tokens_file().replace(b'"id": "s4000"', b'"id": "s12"', 1), 4001, "first used on line 13"),
    ("pool.jsonl", tokens_file().replace(b'"film", "4500"], "tags": ["B-MAT", "O", "O"]',
                                         b'"film", "4500"], "tags": ["B-MAT", "O"]', 1), 4501, "3 tokens but 2 tags"),
    ("pool.csv", b"id,text\n" + b"".join(f"r{i},Row {i} of text\n".encode() for i in range(N))
     + b'r-bad,"one",two\n', N + 2, "3 cells"),
])
def test_a_bad_line_late_in_a_big_file_names_it_and_leaves_nothing(tmp_path, small_batches, name, data, line, why):
    folder = tmp_path / "projects"
    with pytest.raises(DataFormatError) as err:
        create_project_from_bytes("big", data, name, projects_dir=folder)
    assert err.value.path == name and err.value.line == line and why in str(err.value)
    assert nothing_left(folder)  # no project, no temporary file


def test_a_bad_target_or_a_type_outside_the_schema_leaves_nothing(tmp_path, small_batches):
    folder = tmp_path / "projects"
    bad_target = tokens_file(800).replace(b'"id": "s700"', b'"id": "s700" "x"', 1)
    with pytest.raises(DataFormatError, match="line 701"):
        create_project_from_bytes("t", text_file(), "pool.txt", target=(bad_target, "test.jsonl"), projects_dir=folder)
    with pytest.raises(SchemaError, match="MAT"):
        create_project_from_bytes("s", tokens_file(), "pool.jsonl", schema=["PRO"], projects_dir=folder)
    with pytest.raises(SchemaError, match="MAT"):  # an empty schema given is a schema, not "take the data's"
        create_project_from_bytes("z", tokens_file(), "pool.jsonl", schema=[], projects_dir=folder)
    with pytest.raises(DataFormatError, match="no sentences found"):
        create_project_from_bytes("e", b'{"text": "  "}\n' * 3, "pool.jsonl", projects_dir=folder)
    assert nothing_left(folder)


def test_an_empty_stream_and_a_stream_read_twice(tmp_path):
    empty = CorpusStream(iter(()), source="x.txt", format="text", lines=0)
    with pytest.raises(DataFormatError, match="no sentences found"):
        list(empty)
    stream = stream_corpus_bytes(b"One.\nTwo.\n", "x.txt")
    assert [s.text for s in stream] == ["One.", "Two."] and stream.line == stream.lines == 2
    with pytest.raises(RuntimeError, match="read once"):
        list(stream)
    with pytest.raises(EmptyPoolError):
        Project.create(tmp_path / "e.allabel", Corpus([]))


def test_stream_reads_every_format_as_the_whole_file_reader(tmp_path):
    cases = {
        "pool.txt": text_file(50),
        "pool.jsonl": tokens_file(50),
        "pool.csv": b"id,text,year\n" + b"".join(f'r{i},"Row {i}, quoted\nover two lines",2020\n'.encode()
                                                 for i in range(50)),
        "iob1.jsonl": b'{"tokens": ["in", "Paris", "Rome"], "tags": ["O", "I-LOC", "B-LOC"]}\n',
        "spans.jsonl": b'{"text": "LiCoO2 is layered.", "spans": [{"start": 0, "end": 6, "label": "MAT"}]}\n',
        "doccano.jsonl": b'{"text": "LiCoO2 is layered.", "label": [[0, 6, "MAT"]]}\n',
    }
    for name, data in cases.items():
        whole = read_corpus_bytes(data, name)
        stream = stream_corpus_bytes(data, name)
        got = [(s.id, s.text, s.spans, s.meta) for s in stream]
        assert got == [(s.id, s.text, s.spans, s.meta) for s in whole], name
        assert stream.warnings == whole.warnings and stream.format == whole.format, name


def test_split_sentences_streamed(tmp_path):
    data = b'{"id": "d1", "text": "LiCoO2 is layered. It is a cathode."}\n{"id": "d2", "text": "One only."}\n'
    p = create_project_from_bytes("s", data, "docs.jsonl", split_sentences=True, projects_dir=tmp_path)
    assert p.pool_ids() == ["d1-s1", "d1-s2", "d2"]
    assert p.pool_ids() == read_input(data, "docs.jsonl", split_sentences=True).ids
    clash = data + b'{"id": "d1-s2", "text": "Taken."}\n'
    with pytest.raises(DataFormatError, match="duplicate id 'd1-s2'"):
        create_project_from_bytes("c", clash, "docs.jsonl", split_sentences=True, projects_dir=tmp_path / "c")
    assert nothing_left(tmp_path / "c")


def test_cli_new_shows_progress_for_a_big_file_and_creates_nothing_on_a_bad_line(tmp_path, capsys):
    big = tmp_path / "big.txt"
    big.write_bytes(text_file(12_000))
    folder = tmp_path / "projects"
    assert main(["project", "new", "big", "--data", str(big), "--projects-dir", str(folder)]) == 0
    out = capsys.readouterr()
    assert f"reading {big}: 12,000 of 12,000 lines (100 %)" in out.err
    assert "12000 sentences" in out.out
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(tokens_file(12_000).replace(b'"id": "s11000"', b'"id": "s11000",,', 1))
    assert main(["project", "new", "bad", "--data", str(bad), "--projects-dir", str(folder)]) != 0
    err = capsys.readouterr().err
    assert f"{bad}" in err and "line 11001" in err
    assert [p.name for p in folder.iterdir()] == ["big.allabel"]
    small = tmp_path / "small.txt"
    small.write_bytes(text_file(20))
    assert main(["project", "new", "small", "--data", str(small), "--projects-dir", str(folder)]) == 0
    assert "reading" not in capsys.readouterr().err  # no progress line for a file read at once
