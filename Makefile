# vpbx: the two commands are `make up` (whole stack + demo company) and `make test`.
SHELL := /bin/bash
# Kamailio embeds Debian's Python 3.11: the venv must be built with the same interpreter.
PYTHON := /usr/bin/python3
VENV := .venv
VPBX := $(VENV)/bin/vpbx

.PHONY: up down status test test-calendar unit lint lock deps debian-packages venv clean bench

up: deps
	$(VPBX) stack up --profile dev

down:
	@if [ -x $(VPBX) ]; then $(VPBX) stack down --profile dev; else echo "nothing to stop"; fi

status:
	$(VPBX) stack status --profile dev

# All tests; the test suite starts its own stack (profile "test": other ports, .run/test).
test: deps lint
	VENV=$(VENV) PYTEST_ARGS="$(PYTEST_ARGS)" scripts/run-tests

# ruff (lint and format) and mypy over the tree, their configuration in
# pyproject.toml; ansible-lint's production profile over ansible/ (offline: the
# roles use ansible-core's own modules only).
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd ansible && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ../$(VENV)/bin/ansible-lint --offline --profile production -q

# The whole suite with every Python process's wall clock moved five years
# ahead, then six back: no test may depend on the day it runs.
test-calendar: deps
	PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test-calendar

# Measurements, not tests: each script starts the "bench" stack (its own ports)
# and writes its table under bench/results/, naming the commit (bench/README.md).
bench: deps
	$(VENV)/bin/python bench/kamailio_cpu.py --calls 1000 --rate 100 --rounds 9 --write

# Pure tests only: no services.
unit: deps
	$(VENV)/bin/python -m pytest -m unit $(PYTEST_ARGS)

deps: debian-packages venv

debian-packages:
	@scripts/install-debian-packages

venv: $(VENV)/.installed

# Exactly the versions (and hashes) of requirements.lock, then vpbx itself.
# Says each step and its time: a first install takes about a minute.
$(VENV)/.installed: pyproject.toml requirements.lock | debian-packages
	@echo "==> $(VENV): a virtualenv of $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@started=$$(date +%s); \
	echo "==> installing the $$(grep -c '^[a-z0-9]' requirements.lock) Python packages of requirements.lock (hashes checked)"; \
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.lock && \
	echo "    done in $$(( $$(date +%s) - started )) s"
	@echo "==> installing vpbx itself (editable)"
	@$(VENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

# Refresh requirements.lock from pyproject.toml's ranges (then review the diff),
# and requirements.runtime.lock, what a deployed host installs: the runtime
# dependencies only, at the same versions.
lock: venv
	$(VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra test --output-file requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
		--constraint requirements.lock --output-file requirements.runtime.lock pyproject.toml

clean: down
	rm -rf .run $(VENV)
