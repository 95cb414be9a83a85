# ddbstream: every target creates the virtual environment it needs (.venv) when missing, with
# exactly the versions of the lock files: uv.lock (the project and its extras), requirements/
# uv.txt (uv itself) and requirements/checkov.txt (checkov, in a venv of its own). A venv is
# rebuilt when its lock file's content changes (the stamp is named by the lock's hash, so a
# fresh clone's file times do not matter). `make lock` re-resolves, `make upgrade` moves every
# pin to the newest allowed release and runs the suite, `make test-latest` runs the suite on the
# newest allowed releases without touching the lock.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
# uv never downloads a Python (it uses $(PY)); its cache (~/.cache/uv) serves repeat installs.
export UV_PYTHON_DOWNLOADS := never
lock_hash = $(shell cat $(1) | sha256sum | cut -c1-16)
UV_STAMP := $(UV_VENV)/.installed-$(call lock_hash,requirements/uv.txt)
STAMP := $(VENV)/.installed-$(call lock_hash,uv.lock pyproject.toml)
EXTRAS := --extra local --extra dev --extra docs

.PHONY: venv test lint fmt demo bench bench-e2e package clean tf-check checkov lock upgrade \
	test-latest docs docs-check

$(UV_STAMP): requirements/uv.txt
	@test -x $(UV_VENV)/bin/python || $(PY) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps \
	  --require-hashes -r requirements/uv.txt
	@rm -f $(UV_VENV)/.installed-*; touch $@

$(STAMP): $(UV_STAMP)
	$(UV) sync -q --locked $(EXTRAS) --python $(PY)
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

## Re-resolve every lock file from pyproject.toml and requirements/*.in (keeping the pins that
## still satisfy them); `make upgrade` moves every pin to the newest allowed release.
UV_COMPILE := $(UV) pip compile -q --universal --python-version 3.11 --generate-hashes
lock: $(UV_STAMP)
	$(UV) lock $(UPGRADE)
	$(UV_COMPILE) $(UPGRADE) requirements/uv.in -o requirements/uv.txt
	$(UV_COMPILE) $(UPGRADE) requirements/checkov.in -o requirements/checkov.txt

upgrade:
	@$(MAKE) --no-print-directory lock UPGRADE=--upgrade
	@$(MAKE) --no-print-directory test

## The suite against the newest releases pyproject.toml allows, ignoring uv.lock, in a venv of
## its own (.venv-latest, made anew each run): a moto or botocore release is seen the day it
## ships. Not part of CI; `make upgrade` is how the lock moves.
LATEST_VENV := .venv-latest
test-latest: $(UV_STAMP)
	rm -rf $(LATEST_VENV)
	$(UV) venv -q --python $(PY) $(LATEST_VENV)
	VIRTUAL_ENV=$(LATEST_VENV) $(UV) pip install -q --upgrade --refresh -e '.[local,dev,docs]'
	@VIRTUAL_ENV=$(LATEST_VENV) $(UV) pip list 2>/dev/null | grep -E '^(moto|boto3|botocore|duckdb) '
	@$(MAKE) --no-print-directory test BIN=$(LATEST_VENV)/bin STAMP=$(UV_STAMP)

## The whole test suite: lint, then every test (slow end-to-end ones included).
## The checks before the tests run side by side (checkov installs into its own venv while ours
## installs; each one's output is printed whole when it ends). The tests run on PYTEST_WORKERS
## pytest-xdist workers: tests/conftest.py says how they share the work (PYTEST_WORKERS=0: one
## process, in collection order).
PYTEST_WORKERS ?= 3
test:
	@$(MAKE) --no-print-directory -j 3 --output-sync=target lint tf-check checkov docs-check
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest: no tests selected"; rc=0; fi; exit $$rc

lint: venv
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

fmt: venv
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

## The manual (docs/, mkdocs): regenerate the reference pages from the code, build the site
## into build/site/. docs-check (part of `make test`) fails on a stale page or a broken build.
export NO_MKDOCS_2_WARNING := 1
docs: venv
	$(BIN)/python tools/reference.py
	$(BIN)/mkdocs build -q

docs-check: venv
	$(BIN)/python tools/reference.py --check
	$(BIN)/mkdocs build -q

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

## checkov over terraform/ in its own venv (its pins clash with ours), installed exactly from
## requirements/checkov.txt; every skip is written inline in the .tf files with its reason.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(call lock_hash,requirements/checkov.txt)
$(CHECKOV_STAMP): $(UV_STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(UV) venv -q --python $(PY) $(CHECKOV_VENV)
	$(UV) pip sync -q --require-hashes --python $(CHECKOV_VENV)/bin/python requirements/checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-*; touch $@

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis .ddbstream/tf-check
