# One entry point for set-up and checks. Every target creates the virtual environment and
# installs passk into it first, so each works on a fresh machine and is safe to repeat.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
RUN ?= runs/canonical

.PHONY: install run check lint test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[gen,serve,train,analysis,dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: evaluate HumanEval's canonical solutions (every one must pass) in the sandbox.
run: $(STAMP)
	$(VENV)/bin/passk problems --canonical --out $(RUN)/samples.jsonl
	$(VENV)/bin/passk evaluate $(RUN)/samples.jsonl --k 1 --out $(RUN)/results.jsonl

# Every check CI runs: lint, types, tests.
check: lint test

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/execution.py
	$(PY) benchmarks/generation.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
