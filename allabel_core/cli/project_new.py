"""``allabel project new NAME --data FILE``: a project from your own sentences.

    allabel project new abstracts --data abstracts.txt
    allabel project new papers --data papers.csv --text-column abstract --split-sentences --schema schema.json

``--data`` is any file the data layer reads: plain text (one sentence per
line), unlabelled JSONL ``{"text", "id"?, "meta"?}``, a ``.csv``/``.tsv``
with a text column, or an annotated file in one of the annotation formats
(its labels become the gold layer). Without ``--schema`` the types are the
labels found in the data, in order of first appearance (none for unlabelled
text: add them in the dashboard's schema editor or import a schema later).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .project_cmd import add_projects_dir

# Files shorter than this are created in well under a second: no progress line.
PROGRESS_FROM_LINES = 10_000


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("new", help="create a project from a file of sentences",
                              description="Create a project from a file of sentences (and optionally a schema).")
    p.add_argument("name", metavar="NAME", help="the project's name (its file is NAME.allabel in the projects folder)")
    p.add_argument("--data", required=True, metavar="FILE", help="the sentences to annotate (the pool)")
    p.add_argument("--schema", metavar="FILE", help="schema.json: the entity types, their definitions and colours")
    p.add_argument("--text-column", metavar="COL",
                   help="the column (.csv/.tsv) or key (JSONL) holding the text "
                        "(default: one called text or sentence, or the only one)")
    p.add_argument("--format", dest="fmt", metavar="FMT", help="format of --data (default: told from the file)")
    p.add_argument("--target", metavar="FILE", help="an optional test set with gold labels, same format")
    p.add_argument("--split-sentences", action="store_true",
                   help="cut each record into sentences (offsets into the record kept in its meta)")
    p.add_argument("--budget", type=int, metavar="N", help="sentences to annotate (default: 10%% of the pool)")
    add_projects_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..project.files import create_project, stream_input
    from ..data.schema import load_schema
    from .project_predict import progress_printer

    schema = load_schema(args.schema) if args.schema else None
    read = dict(fmt=args.fmt, text_column=args.text_column, split_sentences=args.split_sentences, max_bytes=None)
    # Read as streams: the sentences go into the project a batch at a time as they are parsed.
    pool = stream_input(Path(args.data).read_bytes(), args.data, **read)
    target = stream_input(Path(args.target).read_bytes(), args.target, **read) if args.target else None
    files = args.data + (f" and {args.target}" if args.target else "")
    say, shown = progress_printer(), []

    def progress(done: int, total: int) -> None:
        if total >= PROGRESS_FROM_LINES:
            shown.append(done < total)
            say(done, total, f"reading {files}: {done:,} of {total:,} lines ({100 * done // max(1, total)} %)")

    settings = {"budget": args.budget} if args.budget is not None else None
    try:
        project = create_project(args.name, pool, target, schema, projects_dir=args.projects_dir,
                                 settings=settings, unique=False, progress=progress)
    except BaseException:
        if shown and shown[-1] and sys.stderr.isatty():
            print(file=sys.stderr)  # end the progress line the error would otherwise continue
        raise
    with project:
        for w in pool.warnings + (target.warnings if target else []):
            print(f"warning: {w}", file=sys.stderr)
        types = ", ".join(project.schema.names) or "none yet (add them in the dashboard's schema editor)"
        print(f"created {project.path.stem!r} at {project.path}: {len(project)} sentences, types: {types}")
    return 0
