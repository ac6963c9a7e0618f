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


def add_embedder_options(p: argparse.ArgumentParser) -> None:
    """``--embedder local|openai`` and the ``/v1/embeddings`` server's options."""
    g = p.add_argument_group("embeddings")
    g.add_argument("--embedder", choices=("local", "openai"), default="local",
                   help="local: in-process all-MiniLM-L6-v2 (default); openai: an OpenAI-compatible /v1/embeddings "
                        "server (vLLM, TEI, Ollama, llama.cpp --embedding)")
    g.add_argument("--embed-base-url", metavar="URL", help="the embedding server, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--embed-model", metavar="NAME", help="the model the embedding server serves")
    g.add_argument("--embed-batch-size", type=int, default=64, metavar="N", help="texts per request (default 64)")
    g.add_argument("--embed-concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)")
    g.add_argument("--embed-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                   help="environment variable holding the embedding server's key (default OPENAI_API_KEY)")


def embedder_from_args(args):
    """The embedder the command line chose (checked: a URL and model for openai)."""
    import os

    from ..vectors.remote import build_embedder

    kind = getattr(args, "embedder", "local") or "local"
    if kind == "local" and (getattr(args, "embed_base_url", None) or getattr(args, "embed_model", None)):
        from ..errors import ConfigError

        raise ConfigError("--embed-base-url/--embed-model are for --embedder openai; add it, or drop them")
    return build_embedder(kind, base_url=getattr(args, "embed_base_url", None), model=getattr(args, "embed_model", None),
                          api_key=os.environ.get(getattr(args, "embed_api_key_env", "OPENAI_API_KEY")) or None,
                          batch_size=getattr(args, "embed_batch_size", 64), concurrency=getattr(args, "embed_concurrency", 4))


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
