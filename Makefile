# Two commands: `make run` (set up, then start the dashboard on the sample data)
# and `make test` (set up, then run the whole test suite). Both are idempotent:
# a second run reinstalls nothing unless a requirements file changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

# Offline by default: nothing is downloaded at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test setup setup-dev local-llm llm-server browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

run: setup
	ALLABEL_OPEN_SAMPLE=1 $(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true \
		--server.fileWatcherType none \
		--browser.gatherUsageStats false

# The local LLM (llama.cpp server + SmolLM2-135M): built from source once,
# then cached by pip. Tests that need it skip, with the reason, if it failed.
local-llm: $(VENV)/.llm
$(VENV)/.llm: | $(VENV)/.runtime
	@bash scripts/install_local_llm.sh $(BIN) && touch $@ || \
		echo "local LLM could not be installed: its tests will be skipped"

llm-server: local-llm
	$(BIN)/python -m allabel_core.predictors.local_server serve

# Debian's chromium for the browser tests (skipped, with the reason, if absent).
browser:
	@command -v chromium >/dev/null 2>&1 || bash scripts/install_chromium.sh || \
		echo "chromium could not be installed: browser tests will be skipped"

test: setup-dev local-llm browser
	$(BIN)/python -m pytest -q -rs tests

bench: setup-dev
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .allabel_cache
