# logradar: `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install logradar with its dev extra

run: $(STAMP) ## Start the demo: embedded broker, worker, generator, live view
	$(BIN)/logradar demo

test: $(STAMP) ## Run every test (unit, agents, integration on the embedded broker); chaos: make chaos
	$(BIN)/python -m pytest --ignore=tests/chaos

chaos: $(STAMP) ## Fault tests: kills, scale-out, broker pause, SIGTERM (several minutes)
	$(BIN)/python -m pytest tests/chaos -v

fuzz: $(STAMP) ## Fuzz the normaliser with atheris for FUZZ_SECONDS (default 120)
	mkdir -p .logradar/fuzz-corpus
	$(BIN)/python tests/fuzz/fuzz_parse.py -max_total_time=$${FUZZ_SECONDS:-120} -artifact_prefix=.logradar/ .logradar/fuzz-corpus

soak: $(STAMP) ## Memory soak: 20 min at a steady rate over 10,000 keys, prints the RSS series
	$(BIN)/python bench/soak.py

audit: $(STAMP) ## pip-audit over the installed dependencies (fails on known vulnerabilities)
	$(BIN)/python .ci/audit.py

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

QUIX := bench/.venv-quix
$(QUIX)/.installed: # Quix Streams pins confluent-kafka and pydantic apart from ours: its own venv
	test -x $(QUIX)/bin/python || $(PY) -m venv $(QUIX)
	$(QUIX)/bin/python -m pip install -q 'quixstreams==3.28.*' && touch $@ \
	  || echo "quixstreams 3.28 did not install (it comes from PyPI): the bench skips its row"

bench: $(STAMP) $(QUIX)/.installed ## Benchmark against the bare clients, Quix and Faust (~15 min; BENCHMARKS.md)
	$(BIN)/python bench/bench.py

bench-quick: $(STAMP) $(QUIX)/.installed ## The same with 100,000 events, long rows skipped (~3 min)
	$(BIN)/python bench/bench.py --quick

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .logradar

.PHONY: help install run test chaos fuzz soak audit lint bench bench-quick clean
