"""``allabel evaluate``: score a file of predictions against a gold file.

    allabel evaluate --gold test.conll --pred predicted.jsonl
    allabel evaluate --gold pair.txt --pred pair.txt --tag-column 3 --pred-tag-column 4

Entity-level micro and per-type precision, recall and F1, strict IOB2
(seqeval ``mode="strict", scheme=IOB2``) over the tags exactly as the files
hold them: a predicted entity that starts with ``I-X`` is an error, not a
``B-X``. ``--lenient`` gives conlleval's numbers instead. The files may be in
any format ALLabel reads; sentences are paired by id, else by text, and
files that do not pair up are refused, naming the first mismatch (see
:mod:`allabel_core.formats.aligned`).
"""

from __future__ import annotations

import json
import sys

from .reading import print_warnings


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score predictions against gold labels (strict IOB2)",
        description="Entity-level P/R/F1 of a predictions file against a gold file, strict IOB2 over the tags as written.",
    )
    p.add_argument("--gold", required=True, metavar="FILE", help="the reference labels")
    p.add_argument("--pred", required=True, metavar="FILE", help="the predicted labels (the same sentences)")
    p.add_argument("--lenient", action="store_true", help="conlleval's lenient rules instead of strict IOB2")
    p.add_argument("--format", dest="fmt", metavar="FMT", help="format of both files (default: told from each file)")
    p.add_argument("--gold-format", metavar="FMT", help="format of --gold")
    p.add_argument("--pred-format", metavar="FMT", help="format of --pred")
    p.add_argument("--token-column", type=int, metavar="N", help="CoNLL: the token column of both files (1-based)")
    p.add_argument("--tag-column", type=int, metavar="N", help="CoNLL: the tag column of both files (1-based; default the last)")
    p.add_argument("--pred-tag-column", type=int, metavar="N", help="CoNLL: the tag column of --pred, if it differs")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..formats.aligned import align, read_tagged
    from ..scoring import LENIENT, SCORING, evaluate

    gold = read_tagged(args.gold, args.gold_format or args.fmt, token_column=args.token_column,
                       tag_column=args.tag_column)
    pred = read_tagged(args.pred, args.pred_format or args.fmt, token_column=args.token_column,
                       tag_column=args.pred_tag_column or args.tag_column)
    print_warnings(args.gold, gold.corpus.warnings, "evaluate")
    print_warnings(args.pred, pred.corpus.warnings, "evaluate")
    aligned = align(gold, pred)
    for w in aligned.warnings:
        print(f"allabel evaluate: warning: {w}", file=sys.stderr)
    scores = evaluate(aligned.gold, aligned.pred, lenient=args.lenient)
    how = LENIENT if args.lenient else SCORING
    if args.json:
        out = {"scoring": how, "sentences": len(aligned.ids), "paired_by": aligned.paired_by,
               **scores.as_dict(), "per_type": scores.per_type}
        print(json.dumps(out, indent=2))
        return 0
    print(f"{how}; {len(aligned.ids)} sentences paired by {aligned.paired_by}")
    print(f"{'type':<16} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for label, v in scores.per_type.items():
        print(f"{label:<16} {v['precision']:>9.4f} {v['recall']:>9.4f} {v['f1']:>9.4f} {v['support']:>8d}")
    print(f"{'micro avg':<16} {scores.precision:>9.4f} {scores.recall:>9.4f} {scores.f1:>9.4f} {scores.support:>8d}")
    return 0
