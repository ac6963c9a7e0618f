"""``allabel select``: choose which pool sentences to annotate, and say why.

    allabel select --pool train.jsonl --budget 0.05 --strategy allabel --out picks.csv
    allabel select --pool vectors.npy --budget 500 --strategy coreset --out picks.jsonl

``--pool`` is a corpus in any format :mod:`allabel_core.formats` reads, or a
``.npy`` embedding matrix (rows are unit-normalised on load; ids are row
numbers). Strategies that need a predictor (uncertainty, ALLabel with an
uncertainty share) need sentences, so they refuse a matrix. The uncertainty
stage reveals a selected sentence's labels from the pool file itself (the
labels it carries, gold or confirmed), so on an unlabelled pool it sees
selected sentences without entities. ``--target`` defaults to the pool, as in
a live session.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataFormatError
from .reading import add_embedder_options, add_input_options, embedder_from_args, read_input

OUT_FORMATS = (".csv", ".jsonl")
FIELDS = ["rank", "id", "index", "stage", "score", "nearest_id", "nearest_similarity", "note"]

from ..predictors.registry import DEFAULT_PREDICTOR, PREDICTORS


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "select",
        help="choose which sentences to annotate",
        description="Choose which pool sentences to annotate with a strategy, and write each pick with its stage and reason.",
    )
    p.add_argument("--pool", required=True, help="corpus file, or a .npy matrix of sentence embeddings (one row per sentence)")
    p.add_argument("--budget", required=True, help="how many to select: a count (200) or a fraction of the pool (0.05)")
    p.add_argument("--strategy", default="allabel", help="random, coreset, similarity, uncertainty, allabel or full; variants as allabel[split=1:4:0]")
    p.add_argument("--target", help="the sentences to cover (corpus or .npy); default: the pool itself")
    p.add_argument("--seed", type=int, default=0, help="random seed (draws and tie-breaks); default 0")
    p.add_argument("--split", help="allabel budget split diversity:similarity:uncertainty (default 1:3:1)")
    p.add_argument("--order", help="allabel stage order, e.g. DSU (default) or SDU")
    p.add_argument("--seed-rule", dest="seed_rule", help="core-set seed: lowest-mean (default), highest-mean or random")
    p.add_argument("--k-cov", dest="k_cov", type=int, help="similarity stage: neighbours listed per target (default 10)")
    p.add_argument("--discount", type=float, help="similarity stage: divisor for served targets (default 10)")
    p.add_argument("--retriever", choices=("dense", "bm25", "hybrid"),
                   help="similarity stage's lists and the uncertainty stage's demonstrations: dense (MiniLM cosine), "
                        "bm25 or hybrid (their reciprocal-rank fusion); bm25 and hybrid need a corpus, not a .npy")
    p.add_argument("--rrf-k", dest="rrf_k", type=float, help="hybrid's fusion constant (default 60)")
    p.add_argument("--min-stage", dest="min_stage", type=int,
                   help="allabel: a diversity or uncertainty share below this many sentences goes to similarity "
                        "(default 20; 0 keeps the split as given)")
    p.add_argument("--shortlist-factor", dest="shortlist_factor", type=float, help="uncertainty stage: predict this many × its quota (default 5)")
    p.add_argument("--selected", help="ids already annotated (one per line, or a previous select output): resume from them")
    p.add_argument("--predictor", default=DEFAULT_PREDICTOR,
                   help=f"predictor for the uncertainty stage (default {DEFAULT_PREDICTOR}, the {PREDICTORS[DEFAULT_PREDICTOR].description})")
    p.add_argument("--format", help="input format when the extension does not tell (jsonl, conll, doccano, labelstudio, prodigy, spacy, jsonl-text, table, text)")
    add_input_options(p)
    add_embedder_options(p)
    p.add_argument("--out", required=True, help="output file: .csv or .jsonl")
    p.set_defaults(func=run)


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_pool(path: str, fmt: str | None = None, args=None, command: str = "select"):
    """``(corpus, None)`` for a corpus file, ``(None, vectors)`` for a ``.npy``
    matrix. The reader's warnings are printed to stderr."""
    if path.lower().endswith(".npy"):
        return None, load_matrix(path)
    return read_input(path, fmt, args, command), None


def load_matrix(path: str) -> np.ndarray:
    from ..vectors.embed import unit_rows

    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataFormatError(f"not a numeric .npy matrix ({exc})", path=path) from None
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise DataFormatError(f"expected a 2-D numeric matrix (sentences × dimensions), got shape {x.shape} {x.dtype}", path=path)
    if not np.isfinite(x).all():
        raise DataFormatError("the matrix holds NaN or infinite values", path=path)
    return unit_rows(x)


def embed_corpus(corpus, embedder, what: str) -> np.ndarray:
    last = [-1]

    def progress(done: int, total: int) -> None:
        if total and done < total and done - last[0] >= max(1, total // 10):
            err(f"embedding {what}: {done}/{total}")
            last[0] = done

    return embedder.encode(corpus.texts, progress=progress)


def strategy_options(args, spec: str) -> tuple[str, dict]:
    """The strategy name and its options from the spec and the flags."""
    from ..selection.registry import get_strategy, parse_strategy

    _, name, params = parse_strategy(spec)
    strat = get_strategy(name)
    flags = {"split": args.split, "order": args.order, "seed": getattr(args, "seed_rule", None), "k_cov": args.k_cov,
             "discount": args.discount, "shortlist_factor": args.shortlist_factor,
             "retriever": getattr(args, "retriever", None), "rrf_k": getattr(args, "rrf_k", None),
             "min_stage": getattr(args, "min_stage", None)}
    names = {"seed": "--seed-rule", "k_cov": "--k-cov", "shortlist_factor": "--shortlist-factor", "rrf_k": "--rrf-k",
             "min_stage": "--min-stage"}
    for key, value in flags.items():
        if value is None:
            continue
        if key not in strat.defaults:
            raise ConfigError(f"{names.get(key, '--' + key)} does not apply to strategy {name!r}")
        params[key] = value
    strat.resolve(params)
    return name, params


def read_selected_ids(path: str) -> list[str]:
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and "id" not in rows[0]:
            raise DataFormatError("a CSV of selected sentences needs an 'id' column", path=path)
        return [r["id"] for r in rows]
    if p.suffix.lower() == ".jsonl":
        out = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append(str(json.loads(line)["id"]))
                except (ValueError, KeyError, TypeError):
                    raise DataFormatError("expected a JSON object with an 'id'", path=path, line=i) from None
        return out
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_picks(path: str, selection, ids: list[str]) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in OUT_FORMATS:
        raise ConfigError(f"--out {path}: use a .csv or .jsonl file name")
    rows = []
    for rank, p in enumerate(selection.picks, 1):
        rows.append({
            "rank": rank,
            "id": ids[p.index],
            "index": p.index,
            "stage": p.stage,
            "score": None if p.score != p.score else round(p.score, 6),
            "nearest_id": None if p.nearest is None else ids[p.nearest],
            "nearest_similarity": None if p.nearest_similarity is None else round(p.nearest_similarity, 6),
            "note": p.note,
        })
    from ..io.atomic import atomic_write_text

    if suffix == ".csv":
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
        atomic_write_text(path, buf.getvalue())
    else:
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def run(args) -> int:
    from ..selection.budget import resolve_budget
    from ..selection.context import SelectionContext
    from ..selection.registry import get_strategy, run_strategy

    if Path(args.out).suffix.lower() not in OUT_FORMATS:
        raise ConfigError(f"--out {args.out}: use a .csv or .jsonl file name")
    name, params = strategy_options(args, args.strategy)
    strat = get_strategy(name)
    corpus, vectors = load_pool(args.pool, args.format, args)
    needs = strat.needs_context(strat.resolve(params))
    if corpus is None and needs:
        raise ConfigError(
            f"strategy {args.strategy!r} needs sentences for its uncertainty stage, but --pool is an embedding matrix; "
            "give a corpus file, or use a strategy without that stage (e.g. --split 1:4:0)"
        )
    embedder = None
    if corpus is not None or (args.target and not args.target.lower().endswith(".npy")):
        embedder = embedder_from_args(args)
    if corpus is not None:
        vectors = embed_corpus(corpus, embedder, "pool")
        ids = corpus.ids
    else:
        ids = [str(i) for i in range(len(vectors))]
    target_vectors = None
    tcorpus = None
    if args.target:
        tcorpus, target_vectors = load_pool(args.target, args.format, args)
        if tcorpus is not None:
            target_vectors = embed_corpus(tcorpus, embedder, "target")
    retriever = strat.resolve(params).get("retriever", "dense")
    if retriever in ("bm25", "hybrid") and (corpus is None or (args.target and tcorpus is None)):
        raise ConfigError(f"the {retriever} retriever needs sentences' text: give corpus files, not .npy matrices, "
                          "or use --retriever dense")
    selected: list[int] = []
    if args.selected:
        position = {sid: i for i, sid in enumerate(ids)}
        given = list(dict.fromkeys(read_selected_ids(args.selected)))
        unknown = [s for s in given if s not in position]
        if unknown:
            raise ConfigError(f"--selected names {len(unknown)} ids not in the pool, e.g. {unknown[0]!r}")
        selected = [position[s] for s in given]
    n = None if name == "full" else resolve_budget(args.budget, len(vectors))
    context = None
    if needs:
        from ..predictors.registry import build_predictor

        if not corpus.has_gold() and not any(sp.status == "confirmed" for s in corpus for sp in s.spans):
            err("allabel select: warning: the pool carries no labels, so the uncertainty stage sees selected sentences without entities")
        from ..retrieval import as_config

        resolved = strat.resolve(params)
        demo_retriever = as_config(resolved.get("retriever", "dense"), resolved.get("rrf_k"))
        context = SelectionContext(
            [s.with_spans([]) for s in corpus], build_predictor(args.predictor, embedder, retriever=demo_retriever),
            annotate=lambda idx: [corpus[int(i)] for i in idx], embedder=embedder,
        )
    selection = run_strategy(name, vectors, selected, n, rng=np.random.default_rng(args.seed),
                             target_vectors=target_vectors, context=context,
                             pool_texts=corpus.texts if corpus is not None else None,
                             target_texts=tcorpus.texts if tcorpus is not None else None, **params)
    write_picks(args.out, selection, ids)
    stages = ", ".join(f"{k} {v}" for k, v in selection.by_stage().items())
    err(f"selected {len(selection)} of {len(vectors)} pool sentences ({stages}) -> {args.out}")
    return 0
