# Two commands do everything on a fresh machine (see README.md):
#   make book   install everything, then execute every chapter and build the site into _build/html
#   make test   install everything, then run every test: package, notebooks (nbval), site build, browser
#
# Variables: VENV (where the virtual environment lives), PYTHON (the interpreter that makes it).
# RESNETS_PROFILE picks quick/full (default: full on a GPU, quick on a CPU); RESNETS_DATA points at a
# local CIFAR-10 copy. Beside a checkout that has ../shared/data (this project's CI and dev
# machines) the offline copy there is used; elsewhere the chapters download CIFAR-10.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED_CIFAR := $(abspath ../shared/data/cifar10-jpeg.tar.gz)

ifneq ($(wildcard $(SHARED_CIFAR)),)
export RESNETS_DATA ?= $(SHARED_CIFAR)
endif
# Expensive results are computed once per code version and reused by the second execution
# (nbval, then the site build); `make clean` empties it.
export RESNETS_CACHE ?= $(abspath _build/cache)
# Quiets the kernels' debugger warning about frozen modules in the build log.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup browser book test test-unit test-notebooks test-site golden clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Debian's Chromium for the browser test (never a browser download from a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the site test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

book: setup
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: setup browser
	$(MAKE) test-unit
	$(MAKE) test-notebooks
	$(MAKE) book
	$(MAKE) test-site

test-unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/site

test-notebooks: setup
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --timeout=900 -p no:cacheprovider chapters

test-site: setup browser
	$(BIN)/python -m pytest tests/site

# Re-record the outputs of the cells marked NBVAL_CHECK_OUTPUT (after an intended change).
golden: setup
	$(BIN)/python tests/golden.py update

clean:
	rm -rf _build
