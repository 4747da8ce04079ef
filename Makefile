# lvgate: build, lint, test and demo entry points.
#
#   make install       .venv with the project (editable) and its test extras
#   make system-deps   Debian packages the tests run for real (Mosquitto, InfluxDB 1.x, net-snmp, socat, ss, openssl)
#   make lint          ruff check, ruff format --check, mypy
#   make test          system-deps + install, then lint and pytest (services are started by pytest fixtures)
#   make demo          a simulated equipment room end to end (DEMO_ARGS="--duration 20")
#   make bench         every benchmark: bench/results/*.json and BENCHMARKS.md (about 11-13 min)
#   make soak          the full 10-minute soak (make bench runs a short one)
#   make container-check  build deploy/Containerfile with podman and run the collector image (root, ~3 min; not in test)
#   make install-check  install.sh and both units under systemd in a fresh Debian 12 (podman; root, 1-2 min; not in test)
#   make clean         caches and build outputs; `make distclean` also removes .venv

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO_ARGS ?=
BENCH_ARGS ?=
PYTEST_ARGS ?=
# Upper bound for the whole pytest run, in seconds (CI allows 90 minutes for everything).
# Tests bound their own waits; this only stops a run that hangs anyway.
PYTEST_WALL_TIMEOUT ?= 2700
# Print the stacks of every thread when one test runs longer than this (pytest's faulthandler).
PYTEST_STACK_DUMP_AFTER ?= 300

.PHONY: help install system-deps lint test demo bench container-check install-check soak clean distclean

help:
	@sed -n '1,12s/^# \{0,1\}//p' Makefile

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lvgate needs Python >= 3.11, $(PYTHON) is " + sys.version.split()[0])'
	@test -x $(BIN)/python || { echo "install: creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@
	@echo "install: $(VENV) is ready ($$($(BIN)/python --version))"

system-deps:
	@bash .ci/system-deps

lint: install
	@status=0; \
	echo "lint: ruff check"; $(BIN)/ruff check . || status=1; \
	echo "lint: ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "lint: mypy"; $(BIN)/mypy || status=1; \
	if [ $$status -eq 0 ]; then echo "lint: OK"; else echo "lint: FAILED (see above)"; fi; \
	exit $$status

# Lint and pytest both run, so one report shows every problem; the target fails if either fails.
# Nothing is printed after pytest's own closing line when everything passed.
test: system-deps install
	@lint_status=0; $(MAKE) --no-print-directory lint || lint_status=$$?; \
	echo "test: pytest (wall-clock bound $(PYTEST_WALL_TIMEOUT) s)"; \
	test_status=0; \
	timeout --kill-after=30 $(PYTEST_WALL_TIMEOUT) \
		$(BIN)/pytest -q -ra -o faulthandler_timeout=$(PYTEST_STACK_DUMP_AFTER) $(PYTEST_ARGS) || test_status=$$?; \
	if [ $$test_status -eq 124 ] || [ $$test_status -eq 137 ]; then \
		echo "test: pytest was stopped after $(PYTEST_WALL_TIMEOUT) s"; fi; \
	if [ $$lint_status -ne 0 ] || [ $$test_status -ne 0 ]; then \
		echo "test: FAILED (lint exit $$lint_status, pytest exit $$test_status)"; exit 1; fi

demo: install
	$(BIN)/lvgate demo $(DEMO_ARGS)

bench: install
	@if [ -f bench/__main__.py ]; then $(BIN)/python -m bench $(BENCH_ARGS); \
	else echo "bench: no benchmarks yet (bench/__main__.py does not exist)"; fi

# Slow and needs root (podman, debootstrap): deliberately not part of `make test`. See deploy/README.md.
CONTAINER_CHECK_ARGS ?=
container-check:
	bash deploy/container-check.sh $(CONTAINER_CHECK_ARGS)

# The same kind: root, podman and debootstrap, a few minutes; not part of `make test`. See deploy/README.md.
INSTALL_CHECK_ARGS ?=
install-check:
	bash deploy/install-check.sh $(INSTALL_CHECK_ARGS)

soak: install
	$(BIN)/python -m bench soak --soak-minutes 10

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis test-output *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
