"""``allabel predict`` against a misbehaving endpoint: every record says how
its prediction came out, scores leave failures out, failures are listed and
retried exactly, uncertainty and definitions reach the output and the prompt."""

from __future__ import annotations

import json

import pytest
from fakes import DEMOS, QUERIES, gold_answer, make_sentence

from allabel_core.cli import main
from allabel_core.formats import write_corpus

BOOM = ("status", 500, {}, {"error": {"message": "boom"}})


def args_for(files, server, *extra):
    labeled, data, out = files
    return [
        "predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--predictor", "openai",
        "--base-url", server.url, "--model", "fault-model", "--max-retries", "0", "--k", "2", *extra,
    ]


def records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- 3. outcomes in every record; scores count failures apart -------------------


def test_every_record_carries_its_outcome_and_scores_leave_failures_out(files, fault_server, capsys):
    _, _, out = files
    fault_server.default_answer = gold_answer
    fault_server.on(QUERIES[1][1], BOOM)
    fault_server.on(QUERIES[2][1], ("ok", '{"entities": []}'))  # a real "no entities" answer
    assert main(args_for(files, fault_server)) == 1
    err = capsys.readouterr().err
    recs = records(out)
    assert [r["meta"]["outcome"] for r in recs] == ["ok", "failed", "ok"]
    assert recs[1]["meta"]["error_kind"] == "server_error" and "boom" in recs[1]["meta"]["error"]
    assert recs[1]["spans"] == recs[2]["spans"] == [] and recs[1]["meta"] != recs[2]["meta"]
    listed = out.with_name("out.failed.jsonl")
    assert [json.loads(x)["id"] for x in listed.read_text().splitlines()] == ["q2"]
    assert f"scored 2 of 3; 1 failed, listed in {listed}" in err
    assert "1 of 3 sentences failed: q2 (server_error)" in err and "--retry-failed" in err


def test_a_server_that_fails_everything_scores_nothing(files, fault_server, capsys):
    fault_server.default_answer = gold_answer
    fault_server.push(*[BOOM] * 3)
    assert main(args_for(files, fault_server)) == 1
    err = capsys.readouterr().err
    assert "no sentence succeeded, so nothing is scored" in err and "F1 0.000" not in err
    assert "3 of 3 sentences failed: q1 (server_error), q2 (server_error), q3 (server_error)" in err


def test_every_failed_id_is_listed(tmp_path, fault_server, capsys, monkeypatch):
    monkeypatch.setenv("ALLABEL_CACHE_DIR", str(tmp_path / "cache"))
    labeled, data, out = tmp_path / "labeled.jsonl", tmp_path / "data.jsonl", tmp_path / "out.conll"
    write_corpus([make_sentence(*d) for d in DEMOS], labeled, "spacy")
    write_corpus([make_sentence(f"x{i}", f"Film {i} of ZnO.", []) for i in range(25)], data, "spacy")
    fault_server.push(*[BOOM] * 25)
    code = main(["predict", "--labeled", str(labeled), "--data", str(data), "--out", str(out), "--predictor", "openai",
                 "--base-url", fault_server.url, "--model", "fault-model", "--max-retries", "0"])
    assert code == 1
    err = capsys.readouterr().err
    assert "25 of 25 sentences failed: x0 (server_error)" in err and "and 5 more" in err
    listed = tmp_path / "out.failed.jsonl"
    assert sorted(json.loads(x)["id"] for x in listed.read_text().splitlines()) == sorted(f"x{i}" for i in range(25))
    assert "conll records cannot hold a prediction's outcome" in err


# -- 4. --retry-failed asks exactly the sentences that did not succeed ---------


def test_retry_failed_asks_exactly_those_and_keeps_the_good_ones_from_the_cache(files, fault_server, capsys):
    _, _, out = files
    fault_server.default_answer = gold_answer
    cut = '{"entities": [{"text": "TiO2", "label": "MAT"}, {"text": "band'
    fault_server.on(QUERIES[1][1], BOOM)
    fault_server.on(QUERIES[2][1], ("length", cut), ("length", cut))
    assert main(args_for(files, fault_server)) == 1
    assert [r["meta"]["outcome"] for r in records(out)] == ["ok", "failed", "truncated"]
    capsys.readouterr()
    before = fault_server.chat_requests()
    assert main(args_for(files, fault_server, "--retry-failed")) == 0
    err = capsys.readouterr().err
    asked = fault_server.chat_requests()[len(before):]
    which = sorted(i for r in asked for i, q in enumerate(QUERIES) if q[1] in r["body"]["messages"][-1]["content"])
    assert which == [1, 2]  # exactly the failed and the truncated one, once each
    assert "retrying the 2 sentences listed in" in err and "scored 3 of 3" in err and "F1 1.000" in err
    assert [r["meta"]["outcome"] for r in records(out)] == ["ok", "ok", "ok"]
    assert not out.with_name("out.failed.jsonl").exists()
    # Nothing left to retry: no request at all.
    n = len(fault_server.chat_requests())
    assert main(args_for(files, fault_server, "--retry-failed")) == 0
    assert len(fault_server.chat_requests()) == n and "nothing to retry" in capsys.readouterr().err


def test_retry_failed_needs_the_cache_and_a_matching_list(files, fault_server, capsys):
    _, _, out = files
    assert main(args_for(files, fault_server, "--retry-failed", "--no-cache")) == 2
    assert main(args_for(files, fault_server, "--retry-failed")) == 2
    assert "run once without --retry-failed" in capsys.readouterr().err
    out.write_text("")
    out.with_name("out.failed.jsonl").write_text('{"id": "q1"}\n{"id": "nope"}\n')
    assert main(args_for(files, fault_server, "--retry-failed")) == 2
    assert "out.failed.jsonl, line 2: sentence 'nope' is not in --data" in capsys.readouterr().err
    assert not fault_server.chat_requests()


# -- 5. uncertainty written per sentence ----------------------------------------


@pytest.mark.parametrize("mode,kind", [("auto", "perplexity"), ("disagreement", "disagreement")])
def test_uncertainty_is_written_per_sentence(files, fault_server, mode, kind):
    _, _, out = files
    fault_server.logprobs = True
    fault_server.default_answer = gold_answer
    assert main(args_for(files, fault_server, "--uncertainty", mode, "--n-samples", "2")) == 0
    metas = [r["meta"] for r in records(out)]
    assert all(m["uncertainty_kind"] == kind and isinstance(m["uncertainty"], float) for m in metas)
    if kind == "perplexity":
        assert all(m["uncertainty"] > 1 for m in metas)
    else:
        assert all(m["uncertainty"] == 0.0 for m in metas)  # the samples agree


# -- 6. definitions from schema.json; every parse count in the ledger line -----


def test_schema_beside_labeled_gives_the_prompt_its_definitions(files, fault_server, capsys, tmp_path):
    labeled, _, _ = files
    schema = {"labels": [{"name": "MAT", "description": "a named material, e.g. TiO2"},
                         {"name": "PRO", "description": "a property of a material"}]}
    (labeled.parent / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    fault_server.default_answer = lambda body: '{"entities": [{"text": "ZnO"}, {"text": "ZnO", "label": "MAT"}]}'
    assert main(args_for(files, fault_server)) == 0
    err = capsys.readouterr().err
    assert "found beside --labeled" in err
    assert "SMT" in err and "without a definition" in err  # used in --labeled, missing from the schema
    system = fault_server.chat_requests()[0]["body"]["messages"][0]["content"]
    assert "- MAT: a named material, e.g. TiO2" in system and "- PRO: a property of a material" in system
    assert "3 malformed items (no text or no label)" in err  # one per answer, shown in the ledger line
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"labels": [{"name": "MAT", "description": "any material"}]}), encoding="utf-8")
    assert main(args_for(files, fault_server, "--schema", str(other), "--no-cache")) == 0
    assert "- MAT: any material" in fault_server.chat_requests()[-1]["body"]["messages"][0]["content"]


# -- 7. no key in anything written ----------------------------------------------


def test_a_key_echoed_by_the_server_is_in_no_file_written(files, fault_server, monkeypatch, capsys):
    labeled, _, out = files
    key = "cli-only-key-77aa99bb33"
    monkeypatch.setenv("MY_LLM_KEY", key)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fault_server.on(QUERIES[0][1], ("echo_key", '{"entities": []}'))
    fault_server.on(QUERIES[1][1], ("echo_auth", 400))
    fault_server.on(QUERIES[2][1], ("echo_key", "no JSON here"))
    assert main(args_for(files, fault_server, "--api-key-env", "MY_LLM_KEY")) == 1
    out_text = capsys.readouterr()
    blobs = b"".join(p.read_bytes() for p in labeled.parent.rglob("*") if p.is_file())
    assert key.encode() not in blobs and key not in out_text.err + out_text.out
    assert fault_server.chat_requests()[0]["headers"]["authorization"] == f"Bearer {key}"


# -- 8. the model is checked; a 401 names the real option ------------------------


def test_a_wrong_model_name_is_refused_before_any_request(files, fault_server, capsys):
    fault_server.models = ["SmolLM2-135M-Instruct"]
    assert main(args_for(files, fault_server)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("has no model 'fault-model'; it offers: SmolLM2-135M-Instruct")
    assert not fault_server.chat_requests()


def test_a_refused_key_names_the_option_that_exists(files, fault_server, capsys, monkeypatch):
    monkeypatch.setenv("TEAM_KEY", "team-key-123456789")
    fault_server.push(*[("echo_auth", 401)] * 3)
    assert main(args_for(files, fault_server, "--api-key-env", "TEAM_KEY")) == 1
    err = capsys.readouterr().err
    assert "refused the API key (HTTP 401): the key is read from $TEAM_KEY" in err and "--api-key-env" in err
    assert "or --api-key" not in err and "team-key-123456789" not in err
