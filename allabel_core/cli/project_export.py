"""``allabel project export NAME --out FILE [--include confirmed|predicted|all]``.

Writes a project's confirmed labels and/or predicted entities (from
``allabel project predict``), each span marked with its source (``human`` or
the predictor) and score. The format comes from the extension: ``.csv`` is
the entity table (sentence id, sentence, start, end, text, label, source,
score); ``.conll``/``.bio``, ``.json`` (Label Studio) and ``.jsonl``
(spaCy-style, unless ``--format`` says jsonl or doccano) are the annotation
formats. ``--format summary`` writes the summary table (distinct entity
strings per type) as CSV. Nothing is written if the name or options are wrong.
"""

from __future__ import annotations

import sys

from .project_cmd import add_projects_dir, open_named


def add_parser(subparsers) -> None:
    from ..project.export import INCLUDE

    p = subparsers.add_parser(
        "export", help="write confirmed labels and predicted entities to a file",
        description="Write a project's confirmed labels and predicted entities; the format comes from --out's extension.")
    p.add_argument("name", metavar="NAME", help="the project (as `allabel project list` shows it)")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv (entity table), .conll, .json, .jsonl ...")
    p.add_argument("--include", choices=INCLUDE, default="all",
                   help="confirmed labels, predicted entities, or both (default all)")
    p.add_argument("--format", dest="fmt", metavar="FMT",
                   help="override the extension: table, summary, conll, jsonl, doccano, labelstudio, spacy")
    add_projects_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..project.export import export_format, write_export

    fmt = export_format(args.out, args.fmt)  # a bad name fails before the project is read
    with open_named(args) as project:
        exp, warnings = write_export(project, args.out, args.include, fmt)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    spans = sum(len(s.spans) for s in exp.sentences)
    what = "entity table" if fmt == "table" else "summary table" if fmt == "summary" else fmt
    print(f"wrote {args.out} ({what}): {len(exp.sentences)} sentences ({exp.confirmed} confirmed, "
          f"{exp.predicted} predicted), {spans} entities", file=sys.stderr)
    return 0
