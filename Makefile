# The front door of the template monorepo. `make help` lists every target.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.stamp
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help new setup test test-fast lint demo bench package publish deprecate update-project checkov clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create or refresh .venv from the pinned requirements

# Variables given on make's command line reach the recipe's environment (GNU make exports them), so
# the answers pass through the shell quoted, never parsed as shell syntax.
new: setup ## Create a repo: TEMPLATE=build-train|deploy [OUTPUT=dir] [ANSWERS="key=value ..."] [NO_INPUT=1]
	@$(BIN)/python -m scripts.new --template "$$TEMPLATE" --output "$${OUTPUT:-.}" --answers "$$ANSWERS" $(if $(NO_INPUT),--no-input)

# uv resolves and installs the pinned set in under a minute where pip took several; uv itself
# is pinned and comes from the package index like every other tool. INSTALLER=pip uses pip instead
# (what `make bench` compares against). The generated repos' Makefiles pin the same uv (a test says so).
UV_VERSION := 0.13.9
INSTALLER ?= uv
# uv compiles bytecode at install here, as pip does: the tests set PYTHONDONTWRITEBYTECODE (no
# bytecode may land in the template payload), so without it each of the suite's hundreds of
# processes compiled the SageMaker SDK again, ~4 s each. (Generated repos leave it to Python.)
ifeq ($(INSTALLER),uv)
INSTALL := $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python
else ifeq ($(INSTALLER),pip)
INSTALL := $(BIN)/python -m pip install --disable-pip-version-check
else
$(error INSTALLER must be uv or pip, not '$(INSTALLER)')
endif

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),uv)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
endif
	$(INSTALL) -r requirements.txt
	touch $@

test: setup ## Run every test, then the authorization summary (python -m authz): 0 denied, 0 escalations
	rm -rf .authz/calls
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup
	$(BIN)/python -m authz

test-fast: setup ## Run the tests not marked slow
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow"

lint: setup ## ruff (lint + format check) and cfn-lint over the repo
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m scripts.lint_cfn

demo: setup ## Bake the templates into demo/ and show the whole loop on bundled sample data
	$(BIN)/python -m scripts.demo

bench: setup ## Benchmarks: bake time, definition build, local run, serving, packaging, full test suite
	$(BIN)/python -m scripts.bench

package: setup ## Bake every published variant into dist/$(VERSION)/ (make package VERSION=1.4.0)
	@test -n "$(VERSION)" || { echo "error: set VERSION, e.g. make package VERSION=1.4.0"; exit 2; }
	$(BIN)/python -m scripts.package --version $(VERSION)

publish: package ## Publish dist/$(VERSION)/ (PRINCIPALS="role-arn ...", STAGE_ACCOUNTS="id ...", DOMAIN=d-xxx, DRY_RUN=1)
	$(BIN)/python -m scripts.publish publish --version $(VERSION) $(foreach p,$(PRINCIPALS),--principal $(p)) $(foreach a,$(STAGE_ACCOUNTS),--stage-account $(a)) $(if $(DOMAIN),--studio-domain-id $(DOMAIN)) $(if $(DRY_RUN),--dry-run)

deprecate: setup ## Deactivate a published version in Studio (make deprecate VERSION=1.3.0)
	@test -n "$(VERSION)" || { echo "error: set VERSION, e.g. make deprecate VERSION=1.3.0"; exit 2; }
	$(BIN)/python -m scripts.publish deprecate --version $(VERSION)

update-project: setup ## Switch a Studio project to a published version (PROJECT=name VERSION=1.1.0, DRY_RUN=1, PARAMETER=KEY=VALUE)
	$(BIN)/python -m scripts.update_project --project "$(PROJECT)" --version "$(VERSION)" $(if $(DRY_RUN),--dry-run) $(if $(PARAMETER),--parameter "$(PARAMETER)")

checkov: setup ## checkov (own pinned environment, offline) over servicecatalog/ and generated templates
	$(BIN)/python -m scripts.checkov_env

clean: ## Remove generated output (demo/, dist/, caches)
	rm -rf demo dist .bench .pytest_cache .ruff_cache
