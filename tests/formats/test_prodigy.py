"""Prodigy JSONL as its tool writes it: no ``spans`` on a record without
entities, ``answer`` respected, ``tokens`` checked, ``meta`` kept."""

from __future__ import annotations

import json

import pytest

from allabel_core.errors import DataFormatError
from allabel_core.formats import dumps_corpus, read_corpus_bytes
from allabel_core.data.sentence import STATUSES


def _tokens(text: str) -> list[dict]:
    out, pos = [], 0
    for i, word in enumerate(text.split(" ")):
        out.append({"text": word, "start": pos, "end": pos + len(word), "id": i, "ws": True})
        pos += len(word) + 1
    return out


def _record(text, spans=None, answer="accept", **extra):
    rec = {"text": text, "_input_hash": hash(text) % 10**9, "_task_hash": (hash(text) + 1) % 10**9,
           "tokens": _tokens(text), "_view_id": "ner_manual", "answer": answer}
    if spans is not None:
        rec["spans"] = spans
    rec.update(extra)
    return rec


def _span(text, word_index, label):
    toks = _tokens(text)
    t = toks[word_index]
    return {"start": t["start"], "end": t["end"], "token_start": word_index, "token_end": word_index, "label": label}


def _jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


A = "LiFePO4 is a cathode material"
B = "The films were annealed"
C = "TiO2 was doped with Nb"


def test_manual_export_with_empty_records_reads_whole():
    records = [
        _record(A, [_span(A, 0, "MAT")], meta={"source": "paper-1"}),
        _record(B),  # no entities: Prodigy writes no "spans" key
        _record(C, [_span(C, 0, "MAT"), _span(C, 4, "MAT")]),
    ]
    corpus = read_corpus_bytes(_jsonl(records), "ner_dataset.jsonl")
    assert corpus.format == "prodigy" and corpus.warnings == []
    assert corpus.ids == ["line-1", "line-2", "line-3"]
    assert [[sp.text for sp in s.spans] for s in corpus] == [["LiFePO4"], [], ["TiO2", "Nb"]]
    assert {sp.status for s in corpus for sp in s.spans} == {"gold"}
    assert corpus[0].meta == {"source": "paper-1"}


def test_the_first_record_without_spans_still_tells_prodigy():
    corpus = read_corpus_bytes(_jsonl([_record(B), _record(A, [_span(A, 0, "MAT")])]), "x.jsonl")
    assert corpus.format == "prodigy" and len(corpus) == 2


def test_reject_and_ignore_are_left_out_and_counted():
    records = [
        _record(A, [_span(A, 0, "MAT")]),
        _record(B, [_span(B, 1, "DSC")], answer="reject"),
        _record(C, [_span(C, 0, "MAT")], answer="ignore"),
        _record("Nb is a metal", [_span("Nb is a metal", 0, "MAT")], answer="reject"),
    ]
    corpus = read_corpus_bytes(_jsonl(records), "x.jsonl")
    assert corpus.texts == [A]
    text = "\n".join(corpus.warnings)
    assert "records answered 'reject' left out (only 'accept' is read) (2x): line 2; line 4" in text
    assert "records answered 'ignore' left out (only 'accept' is read) (1x): line 3" in text
    assert sum(len(s.spans) for s in corpus) == 1  # rejected spans are never read as gold


def test_binary_answers_on_one_text_merge_and_say_they_are_partial():
    one = dict(_record(A, [_span(A, 0, "MAT")]), _view_id="ner")
    two = dict(_record(A, [_span(A, 3, "APL")]), _view_id="ner")
    wrong = dict(_record(A, [_span(A, 4, "MAT")], answer="reject"), _view_id="ner")
    corpus = read_corpus_bytes(_jsonl([one, wrong, two]), "teach.jsonl")
    assert len(corpus) == 1 and [sp.text for sp in corpus[0].spans] == ["LiFePO4", "cathode"]
    text = "\n".join(corpus.warnings)
    assert "merged into one sentence (1x): line 3" in text
    assert "2 accepted binary answers" in text and "partly annotated" in text


def test_tokens_check_the_offsets():
    bad_span = _record(A, [{"start": 0, "end": 8, "token_start": 0, "token_end": 0, "label": "MAT"}])
    with pytest.raises(DataFormatError, match=r"x.jsonl, line 1: span 1: offsets \[0, 8\) do not match its tokens 0..0"):
        read_corpus_bytes(_jsonl([bad_span]), "x.jsonl")
    bad_token = _record(A)
    bad_token["tokens"][1]["start"] = 9
    with pytest.raises(DataFormatError, match=r"line 1: token 2 says 'is' at \[9, 10\)"):
        read_corpus_bytes(_jsonl([bad_token]), "x.jsonl")
    beyond = _record(A, [{"start": 0, "end": 7, "token_start": 0, "token_end": 9, "label": "MAT"}])
    with pytest.raises(DataFormatError, match="do not name tokens"):
        read_corpus_bytes(_jsonl([beyond]), "x.jsonl")


def test_unknown_answer_is_refused():
    with pytest.raises(DataFormatError, match="line 1: 'answer' must be one of accept, reject, ignore, got 'maybe'"):
        read_corpus_bytes(_jsonl([_record(A, answer="maybe")]), "x.jsonl")


def test_records_without_answer_are_read_with_a_note():
    rec = _record(A, [_span(A, 0, "MAT")])
    del rec["answer"]
    corpus = read_corpus_bytes(_jsonl([rec, _record(B)]), "x.jsonl")
    assert len(corpus) == 2
    assert any("without an 'answer' read as given (1x): line 1" in w for w in corpus.warnings)


def test_span_source_and_score_from_prodigy_are_kept():
    span = dict(_span(A, 0, "MAT"), source="en_core_sci", score=0.7)
    corpus = read_corpus_bytes(_jsonl([_record(A, [span])]), "x.jsonl")
    assert (corpus[0].spans[0].source, corpus[0].spans[0].score) == ("en_core_sci", 0.7)


def test_our_prodigy_output_reads_back_and_has_what_db_in_takes():
    records = [_record(A, [_span(A, 0, "MAT")], meta={"k": 1}), _record(B)]
    corpus = read_corpus_bytes(_jsonl(records), "x.jsonl")
    text, warnings = dumps_corpus(corpus, "prodigy", statuses=STATUSES)
    assert warnings == []
    written = [json.loads(line) for line in text.splitlines()]
    assert all(r["answer"] == "accept" and "tokens" in r and "spans" in r for r in written)
    first = written[0]
    tok = first["tokens"][first["spans"][0]["token_start"]]
    assert (tok["start"], tok["end"]) == (first["spans"][0]["start"], first["spans"][0]["end"])
    assert first["meta"] == {"k": 1}
    back = read_corpus_bytes(text.encode(), "back.jsonl")
    assert back.format == "prodigy" and back.texts == corpus.texts
    assert [[sp.key() for sp in s.spans] for s in back] == [[sp.key() for sp in s.spans] for s in corpus]
