# Feedkeeper. `make run` to use it, `make test` to test it, `make demo` to see it work against simulators.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKER_CONCURRENCY ?= 16
# A thread pool lives in one process, on one core: one worker process per core.
WORKER_PROCESSES ?= $(shell nproc 2>/dev/null || echo 1)
export HOST PORT WORKER_CONCURRENCY WORKER_PROCESSES
export WEB_BIND := $(HOST):$(PORT)

.PHONY: run demo test lint typecheck check clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# The first admin's one-time password would scroll off under the processes' start-up lines: it is said again once
# they are up (kept in the shell's memory only, never in a file).
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	@msg="$$($(BIN)/python manage.py bootstrap --url http://$(HOST):$(PORT)/)" || exit 1; printf '%s\n' "$$msg"; \
	  ( sleep 12; printf '\n%s\n' "$$msg" ) & \
	  exec $(BIN)/honcho -f Procfile start -c worker=$(WORKER_PROCESSES)

demo: $(VENV)/.dev
	$(BIN)/python -m demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

check: $(VENV)/.dev
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
