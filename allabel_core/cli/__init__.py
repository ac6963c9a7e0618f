"""The ``allabel`` command line: ``python -m allabel_core <command> ...``.

Each command lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Errors print one clear line and exit non-zero; pass
``--debug`` for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import AllabelError

# Command name -> module (imported only when that command runs, so `--help`
# stays instant and no heavy library loads for an unrelated command).
COMMANDS = {
    "select": "select_cmd",
    "curve": "curve_cmd",
    "predict": "predict_cmd",
    "evaluate": "evaluate_cmd",
    "coverage": "coverage_cmd",
    "project": "project_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allabel",
        description="Choose which sentences to annotate, predict entities from them, and score it.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AllabelError as exc:
        if args.debug:
            raise
        print(f"allabel {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"allabel {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file that cannot be read or written: one line, not a traceback
        if args.debug:
            raise
        print(f"allabel {args.command}: error: {exc}", file=sys.stderr)
        return 2
