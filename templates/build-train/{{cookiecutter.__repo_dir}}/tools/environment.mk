# The repository's environment: .venv from requirements.txt, the platform kit first. Included by
# the Makefile; one file for both generated repositories.
PYTHON ?= python3
# VENV can point at an existing environment with the same pins (the template's own tests and the
# template monorepo's demo do): make then uses it as it is and never installs into it.
VENV ?= .venv
BIN := $(VENV)/bin
# The loopback port of the local AWS services (S3 and model registry) that `make local-aws-start`
# runs from the build-train repository: both repositories include this file, so the deploy
# repository's serve-local and test-local find them on the same port without anything exported.
# Override per command (make local-aws-start LOCAL_AWS_PORT=4590) when the port is taken.
LOCAL_AWS_PORT ?= 4580
STAMP := $(VENV)/.requirements.stamp
# How setup fills the environment: uv (pinned here, the one place; pip fetches it from the package
# index into the environment, then it installs the requirements in seconds rather than minutes) or
# pip (`make setup INSTALLER=pip`). Both show their progress; pip stays in the environment either way.
INSTALLER ?= uv
UV_VERSION := 0.13.9
# uv leaves bytecode to Python, which writes it for what a command imports the first time it runs:
# a CI build runs a few commands once, and compiling every installed module up front costs it more
# than compiling the half of them those commands import.
ifeq ($(INSTALLER),uv)
INSTALL := $(BIN)/uv pip install --python $(BIN)/python
else ifeq ($(INSTALLER),pip)
INSTALL := $(BIN)/python -m pip install --disable-pip-version-check
else
$(error INSTALLER must be uv or pip, not '$(INSTALLER)')
endif

# An existing environment named by VENV=... is used as it is: no stamp check, no reinstall (a
# fresh bake's requirements.txt is newer than that environment's stamp).
SETUP_NEEDS := $(if $(and $(filter-out .venv,$(VENV)),$(wildcard $(VENV)/bin/python)),,$(STAMP))

setup: $(SETUP_NEEDS) ## Create or refresh the virtual environment from requirements.txt (INSTALLER=uv | pip)

# The platform kit pinned in requirements.txt comes first: from the release wheel (KIT_WHEEL_S3_URI,
# set in CodeBuild), KIT_FIND_LINKS, KIT_INDEX_URL, or the template commit .cruft.json records
# (tools/install_kit.py says how).
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),uv)
	$(BIN)/python -m pip install --disable-pip-version-check uv==$(UV_VERSION)
endif
	KIT_INSTALLER=$(INSTALLER) $(BIN)/python tools/install_kit.py
	$(INSTALL) -r requirements.txt
	touch $@

# Optional extras on top of requirements.txt, one requirements-<extra>.txt each (build-train's
# notebook environment): a target that needs one lists $(call extra_needs,<extra>), which installs
# it into the environment the first time and again when its file changes. An existing VENV=... is
# used as it is, like for setup.
extra_needs = $(if $(SETUP_NEEDS),$(VENV)/.requirements-$(1).stamp)

$(VENV)/.requirements-%.stamp: requirements-%.txt $(STAMP)
	$(INSTALL) -r $<
	touch $@
