"""``allabel project import NAME --labels FILE``: annotated sentences become confirmed labels.

Each annotated sentence of the file is matched to the project's sentence
with the same id (and text), else to those with exactly its text (spaces
between tokens aside); it becomes confirmed with the file's spans, replacing
what was there. Sentences that match nothing are reported; nothing else
changes. Types the file uses that the project lacks are refused with their
list, or added with ``--add-types``.
"""

from __future__ import annotations

import sys

from .project_cmd import add_projects_dir, open_named


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("import", help="import annotated sentences as confirmed labels",
                              description="Import annotated sentences (matched by id, else by text) as confirmed labels.")
    p.add_argument("name", metavar="NAME", help="the project (as `allabel project list` shows it)")
    p.add_argument("--labels", required=True, metavar="FILE", help="annotated sentences in any annotation format")
    p.add_argument("--format", dest="fmt", metavar="FMT", help="format of --labels (default: told from the file)")
    p.add_argument("--add-types", action="store_true", help="add types the file uses that the project lacks")
    add_projects_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.corpus import Corpus
    from ..formats import stream_corpus
    from .project_new import PROGRESS_FROM_LINES
    from .project_predict import progress_printer

    stream, sentences = stream_corpus(args.labels, args.fmt), []
    say = progress_printer() if stream.lines >= PROGRESS_FROM_LINES else None
    try:
        for s in stream:
            sentences.append(s)
            if say and len(sentences) % 5000 == 0:
                say(stream.line, stream.lines, f"reading {args.labels}: {stream.line:,} of {stream.lines:,} lines")
    except BaseException:
        if say and len(sentences) >= 5000 and sys.stderr.isatty():
            print(file=sys.stderr)  # end the progress line the error would otherwise continue
        raise
    if say:
        say(stream.lines, stream.lines, f"reading {args.labels}: {len(sentences):,} sentences")
    labels = Corpus(sentences, stream.warnings, args.labels, stream.format)
    for w in labels.warnings:
        print(f"warning: {w}", file=sys.stderr)
    with open_named(args) as project:
        report = project.import_labels(labels, add_types=args.add_types, source=args.labels)
    print(report.line())
    return 0
