# Two set-up commands, both from a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= Frank Ocean meets Burial, late-night vibes

.PHONY: run test bench clean

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

# Composes the demo and plays it (through a running daemon, or one started in the foreground;
# with no MIDI system it plays to the terminal monitor). Ctrl-C stops, every note ended.
run: $(VENV)/.installed
	$(BIN)/backbeat play "$(DEMO)"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/backbeat bench pipeline

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
