"""``allabel project predict NAME``: predict the rest of a project.

Runs the project's predictor (its settings: the offline kNN predictor, or an
LLM at an OpenAI-compatible endpoint with the key from ``$OPENAI_API_KEY``)
over every pool sentence a person has not confirmed, with the confirmed
sentences as demonstrations, and stores each prediction in the project with
its provenance. Only sentences whose retrieved demonstrations, their labels
or the predictor changed since the last run are predicted again
(``--force``: all). Progress (done/total, rate, time left) goes to stderr.
The pool is planned and predicted a chunk at a time and stored batch by
batch, so a 100k-sentence pool fits in memory, and Ctrl-C (or a killed
process) keeps every finished batch: the next run predicts only the rest.
"""

from __future__ import annotations

import os
import sys

from .project_cmd import add_projects_dir, open_named


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="predict every sentence not confirmed by a person",
        description="Predict every pool sentence not confirmed by a person, with the confirmed ones as demonstrations.")
    p.add_argument("name", metavar="NAME", help="the project (as `allabel project list` shows it)")
    p.add_argument("--force", action="store_true", help="predict every sentence again, changed or not")
    p.add_argument("--batch", type=int, default=32, metavar="N", help="sentences stored per batch (default 32)")
    add_projects_dir(p)
    p.set_defaults(func=run)


def progress_printer(stream=None):
    """A ``(done, total, message)`` callback printing a line per ~5 % (or
    rewriting one line on a terminal)."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    last = [-1]

    def report(done: int, total: int, message: str) -> None:
        step = max(1, total // 20)
        if tty:
            print(f"\r{message}\033[K", end="" if done < total else "\n", file=stream, flush=True)
        elif done == total or done // step != last[0]:
            last[0] = done // step
            print(message, file=stream, flush=True)

    return report


def run(args) -> int:
    from ..predictors.registry import describe_predictor, predictor_from_settings
    from ..project.rest import predict_rest
    from ..vectors.embed import Embedder

    with open_named(args) as project:
        embedder = Embedder()
        predictor = predictor_from_settings(project.settings, embedder, project.schema,
                                            api_key=os.environ.get("OPENAI_API_KEY") or None)
        print(f"{project.name}: predictor {describe_predictor(project.settings)}; "
              f"{len(project.annotated())} confirmed sentences as demonstrations", file=sys.stderr)
        try:
            run_ = predict_rest(project, embedder, predictor, progress=progress_printer(), batch=args.batch,
                                force=args.force)
        except KeyboardInterrupt:
            print("\ninterrupted: the batches finished so far are stored; run the same command again to predict "
                  "the rest", file=sys.stderr)
            return 130
        print(run_.line(), file=sys.stderr)
        if run_.failed:
            print(f"{run_.failed} sentence(s) failed; run the same command again to retry them", file=sys.stderr)
            return 1
    return 0
