"""Reading corpus files for the commands: the shared column options, and
every reader warning printed to stderr, one line each, with their count."""

from __future__ import annotations

import argparse
import sys


def add_input_options(p: argparse.ArgumentParser) -> None:
    """``--token-column``/``--tag-column`` (CoNLL, 1-based) and ``--text-column`` (tables)."""
    p.add_argument("--token-column", type=int, metavar="N", help="CoNLL: the column holding the tokens (1-based)")
    p.add_argument("--tag-column", type=int, metavar="N", help="CoNLL: the column holding the tags (1-based; default the last)")
    p.add_argument("--text-column", metavar="NAME", help=".csv/.tsv table (or JSONL key): the column holding the text")


def options(args) -> dict:
    return {
        "token_column": getattr(args, "token_column", None),
        "tag_column": getattr(args, "tag_column", None),
        "text_column": getattr(args, "text_column", None),
    }


def print_warnings(path: str, warnings: list[str], command: str) -> None:
    """Each warning on its own line after one that counts them."""
    if not warnings:
        return
    n = len(warnings)
    print(f"allabel {command}: {n} warning{'s' if n > 1 else ''} reading {path}:", file=sys.stderr)
    for w in warnings:
        print(f"  warning: {w}", file=sys.stderr)


def read_input(path: str, fmt: str | None, args, command: str):
    """``read_corpus`` with the command's column options; warnings printed."""
    from ..formats import read_corpus

    corpus = read_corpus(path, fmt, **options(args))
    print_warnings(path, corpus.warnings, command)
    return corpus
