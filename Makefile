# ddbstream: every target creates the virtual environment it needs (.venv) when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint fmt demo bench bench-e2e package clean tf-check checkov

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[local,dev]'
	@touch $(STAMP)

venv: $(STAMP)

## The whole test suite: lint, then every test (slow end-to-end ones included).
## The checks before the tests run side by side (checkov installs into its own venv while ours
## installs; each one's output is printed whole when it ends). The tests run on PYTEST_WORKERS
## pytest-xdist workers: tests/conftest.py says how they share the work (PYTEST_WORKERS=0: one
## process, in collection order).
PYTEST_WORKERS ?= 3
test:
	@$(MAKE) --no-print-directory -j 3 --output-sync=target lint tf-check checkov
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); rc=$$?; \
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

## The reliability suite: changes written while each fault hits the local stack, then the tally
## (CHAOS_ARGS="--changes 100 --window 20 --faults s3,sns" for a shorter run).
chaos: venv
	$(BIN)/python -m ddbstream.local.chaos $(CHAOS_ARGS)

bench: venv
	$(BIN)/python bench/run.py
	$(BIN)/python bench/audit_bench.py

bench-e2e: venv
	$(BIN)/python bench/run.py --only e2e

package: venv
	$(BIN)/ddbstream package

## Terraform: fmt -check (root, module, examples); init from the offline hashicorp/aws mirror
## when there is one (found by ddbstream.local.terraform, same as the local stack; with internet
## and no mirror, the registry); validate the root configuration and every example under
## terraform/examples/. init/validate run in .ddbstream/tf-check (a mirror of terraform/ made of
## symlinks), so no .terraform/ or lock file lands in terraform/. The configurations share one
## plugin cache, and two validations run at a time (each one mostly loads the provider).
TF_CHECK_DIR := .ddbstream/tf-check
tf-check: venv
	@rc=$$($(BIN)/python -m ddbstream.local.terraform cli-config) && \
	  dirs=$$($(BIN)/python -m ddbstream.local.terraform check-tree $(TF_CHECK_DIR)) && \
	  echo "terraform CLI config: $${rc:-terraform's defaults}" && \
	  export TF_CLI_CONFIG_FILE="$$rc" TF_PLUGIN_CACHE_DIR="$$PWD/$(TF_CHECK_DIR)/plugin-cache" && \
	  mkdir -p "$$TF_PLUGIN_CACHE_DIR" && \
	  terraform -chdir=terraform fmt -check -recursive -diff && \
	  for dir in $$dirs; do \
	    terraform -chdir="$$dir" init -backend=false -input=false -no-color \
	      >"$$dir/init.log" 2>&1 || { cat "$$dir/init.log"; exit 1; }; \
	  done && \
	  printf '%s\n' $$dirs | xargs -P 2 -I{} sh -c \
	    'terraform -chdir="{}" validate -no-color >"{}/validate.log" 2>&1; echo $$? >"{}/validate.rc"' && \
	  failed=0 && for dir in $$dirs; do \
	    name=$${dir#$$PWD/$(TF_CHECK_DIR)}; echo "== terraform$${name:-/ (root)}"; \
	    cat "$$dir/validate.log"; \
	    [ "$$(cat "$$dir/validate.rc")" = 0 ] || failed=1; \
	  done && [ $$failed = 0 ]

## checkov over terraform/ in its own venv (its pins clash with ours). The first run installs it
## (about 20 s from PyPI); every skip is written inline in the .tf files with its reason.
CHECKOV_VENV := .venv-checkov
CHECKOV_SPEC := checkov>=3.2.300,<3.4
$(CHECKOV_VENV)/.installed-stamp: Makefile
	@test -x $(CHECKOV_VENV)/bin/python || $(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q '$(CHECKOV_SPEC)'
	@touch $@

checkov: $(CHECKOV_VENV)/.installed-stamp
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis .ddbstream/tf-check
