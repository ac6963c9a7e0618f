"""Streamed reading gives exactly what reading the whole file gives (the
same sentences, warnings and errors, for every fixture), holds one chunk at
a time, and the chunk writer writes what the whole-file writer writes."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from allabel_core.errors import DataFormatError
from allabel_core.formats import FORMATS, dumps_corpus, read_corpus, write_corpus
from allabel_core.formats import stream
from allabel_core.formats.stream import APPENDABLE, STREAMED, ChunkWriter, StreamedCorpus

HERE = Path(__file__).parent
FIXTURES = sorted(p for d in ("wellformed", "malformed") for p in (HERE / d).iterdir() if p.is_file())
SAMPLE = HERE.parents[1] / "sample_data" / "pool.jsonl"


def outcome(read):
    try:
        corpus = read()
    except DataFormatError as exc:
        return "error", str(exc)
    sentences = [s for c in corpus.chunks(3) for s in c] if isinstance(corpus, StreamedCorpus) else list(corpus)
    return "ok", sentences, list(corpus.warnings), corpus.format, corpus.has_gold()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_streamed_reading_equals_reading_the_whole_file(path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK", 2)  # blocks of two lines: every boundary is crossed
    assert outcome(lambda: StreamedCorpus(path)) == outcome(lambda: read_corpus(path))


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f in STREAMED] + ["jsonl", "conll", "labelstudio"])
def test_every_format_streams_or_is_read_whole_with_the_same_sentences(fmt, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK", 7)
    gold = read_corpus(SAMPLE)
    ext = {"text": ".txt", "conll": ".conll", "labelstudio": ".json"}.get(fmt, ".jsonl")
    path = tmp_path / f"pool{ext}"
    write_corpus(gold, path, fmt)
    whole, streamed = read_corpus(path), StreamedCorpus(path)
    assert streamed.format == whole.format == fmt
    assert streamed.streamed == (fmt in STREAMED)
    assert [s for c in streamed.chunks(50) for s in c] == list(whole)
    assert len(streamed) == len(whole) and streamed.ids == set(whole.ids)


def test_an_error_deep_in_the_file_is_the_whole_readers_error(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK", 10)
    path = tmp_path / "big.jsonl"
    lines = [f'{{"id": "t{i}", "text": "Sentence {i}."}}' for i in range(100)]
    lines[57] = '{"id": "t3", "text": "again"}'  # the id of line 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as whole:
        read_corpus(path)
    with pytest.raises(DataFormatError) as streamed:
        StreamedCorpus(path)
    assert str(streamed.value) == str(whole.value) and "line 58" in str(whole.value) and "line 4" in str(whole.value)


def test_the_kind_of_jsonl_is_told_from_every_record(tmp_path):
    # Only a late record has spans: the whole file is spaCy-style JSONL (and
    # its first records lack them), not unlabelled JSONL as the first lines say.
    path = tmp_path / "late.jsonl"
    rows = [f'{{"id": "t{i}", "text": "Sentence {i}."}}' for i in range(6000)]
    rows.append('{"id": "x", "text": "TiO2 film.", "spans": [{"start": 0, "end": 4, "label": "MAT"}]}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    whole = outcome(lambda: read_corpus(path))
    assert outcome(lambda: StreamedCorpus(path)) == whole and "missing key 'spans'" in whole[1]


def test_chunks_are_read_lazily(tmp_path, monkeypatch):
    path = tmp_path / "pool.txt"
    path.write_text("".join(f"Sentence number {i} about TiO2.\n" for i in range(5000)), encoding="utf-8")
    monkeypatch.setattr(stream, "BLOCK", 100)
    corpus = StreamedCorpus(path)
    blocks = []
    real = stream._blocks
    monkeypatch.setattr(stream, "_blocks", lambda p, size=100: (blocks.append(1) or b for b in real(p, size)))
    chunks = corpus.chunks(64)
    first = next(chunks)
    assert [s.id for s in first] == [f"line-{i}" for i in range(1, 65)]
    assert len(blocks) == 1  # one block of 100 lines read, not the file
    chunks.close()


def _iteration_peak(path: Path) -> int:
    corpus = StreamedCorpus(path)
    tracemalloc.start()
    try:
        for _chunk in corpus.chunks(256):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_in_chunks_holds_one_chunk_whatever_the_file_size(tmp_path):
    for n in (2000, 20000):
        (tmp_path / f"p{n}.txt").write_text(
            "".join(f"Sample {i} of LiFePO4 was annealed at {i} K in argon.\n" for i in range(n)), encoding="utf-8")
    small, large = _iteration_peak(tmp_path / "p2000.txt"), _iteration_peak(tmp_path / "p20000.txt")
    assert large < 1.5 * small, (small, large)  # ten times the file, not ten times the memory


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_chunk_writer_writes_what_the_whole_writer_writes(fmt, tmp_path):
    sentences = list(read_corpus(SAMPLE))[:40]
    ext = {"text": ".txt", "conll": ".conll", "labelstudio": ".json", "table": ".csv"}.get(fmt, ".jsonl")
    path = tmp_path / f"out{ext}"
    with ChunkWriter(path, fmt, statuses=("gold",)) as w:
        for lo in range(0, len(sentences), 7):
            w.write(sentences[lo:lo + 7])
    whole, _ = dumps_corpus(sentences, fmt, statuses=("gold",))
    assert path.read_text(encoding="utf-8") == whole
    assert not list(tmp_path.glob(".out*"))


def test_appending_continues_a_file_and_aborting_a_whole_format_leaves_the_old_one(tmp_path):
    sentences = list(read_corpus(SAMPLE))[:10]
    path = tmp_path / "out.jsonl"
    with ChunkWriter(path, "spacy", statuses=("gold",)) as w:
        w.write(sentences[:4])
    with ChunkWriter(path, "spacy", statuses=("gold",), append=True) as w:
        w.write(sentences[4:])
    assert path.read_text(encoding="utf-8") == dumps_corpus(sentences, "spacy", statuses=("gold",))[0]
    old = tmp_path / "out.conll"
    old.write_text("old\tO\n", encoding="utf-8")
    w = ChunkWriter(old, "conll", statuses=("gold",))
    w.write(sentences)
    w.abort()
    assert old.read_text() == "old\tO\n" and not list(tmp_path.glob(".out.conll*"))
    assert set(APPENDABLE) <= set(FORMATS)
