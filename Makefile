# ddbstream: every target creates the virtual environment it needs (.venv) when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint fmt demo bench package clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[local,dev]'
	@touch $(STAMP)

venv: $(STAMP)

## The whole test suite: lint, then every test (slow end-to-end ones included).
test: venv lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest: no tests selected"; rc=0; fi; exit $$rc

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

fmt: venv
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## The demo: the local stack, the seed README's walkthrough, a summary.
demo: venv
	$(BIN)/ddbstream demo

bench: venv
	$(BIN)/python bench/run.py

package: venv
	$(BIN)/ddbstream package

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
