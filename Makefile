# Two commands do everything on a fresh machine (see README.md):
#   make book   install everything, then execute every chapter and build the site into _build/html
#   make test   install everything, then lint (ruff) and run every test: package, notebooks (nbval), the widget
#               chapters in Colab's environment, site build, browser
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
# Expensive results are computed once per code version and reused by any later execution of
# a chapter (the Colab stage excepted: it computes afresh); `make clean` empties it.
export RESNETS_CACHE ?= $(abspath _build/cache)
# The notebook tests' executed chapters (stamped), filed in the book's jupyter-cache so that
# `make test` executes each chapter once (tools/notebook_outputs.py).
EXECUTED := _build/executed
# Quiets the kernels' debugger warning about frozen modules in the build log.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup browser book test test-main colab-env lint test-unit test-notebooks test-colab test-colab-all test-floors test-site gpu-check golden clean

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
	$(BIN)/python tools/notebook_outputs.py $(EXECUTED)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

# `make test` in stages, each timed (wall clock), the times printed at the end. Colab's
# environment (a 5 GB download: 1.5 to 5.5 minutes here, mostly waiting on the network)
# installs beside the main environment's install, lint, unit tests and notebook tests, which run
# one after another; -Oline prints each stage's output when it ends. Every chapter is executed
# once: by the notebook tests, whose outputs the book reuses (tools/notebook_outputs.py); the
# Colab stage executes its chapters again, in Colab's versions. Measured on the 2-core CI
# machine (benchmarks/RESULTS.md): running the Colab stage beside the book and site test, or
# installing without bytecode (pip --no-compile), made the whole slower; both CPU-bound.
STAGE_TIMES := _build/stage-times.txt
timed = start=$$(date +%s); $(MAKE) --no-print-directory $(2) && \
        printf '%-44s %5d s\n' '$(1)' $$(( $$(date +%s) - start )) >> $(STAGE_TIMES)

test: browser
	@mkdir -p _build && rm -f $(STAGE_TIMES)
	@+$(MAKE) --no-print-directory -j2 --output-sync=line test-main colab-env
	@+$(call timed,Colab stage,test-colab)
	@+$(call timed,book,book)
	@+$(call timed,site (browser),test-site)
	@echo "Stage times (wall clock):" && cat $(STAGE_TIMES)

test-main:
	@+$(call timed,install,setup)
	@+$(call timed,lint,lint)
	@+$(call timed,unit tests,test-unit)
	@+$(call timed,notebooks (nbval),test-notebooks)

colab-env:
	@+$(call timed,Colab environment (beside the four above),$(COLAB_STAMP))

# ruff, pinned in requirements.txt, configured in pyproject.toml: lint rules, import order,
# and the formatting (line length 120) that the code keeps.
lint: setup
	$(BIN)/ruff check code tests tools
	$(BIN)/ruff format --check code tests tools

# The unit tests run single-threaded (tests/conftest.py), so pytest-xdist gives each core a
# worker (at most 4: each holds its own copy of the data set); worksteal keeps them all busy
# while one runs a long test.
test-unit: setup
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist worksteal tests --ignore=tests/site

# Every chapter, each in its own kernel, on two workers with a thread each (two kernels with two
# threads each slow each other down on two cores); each executed notebook is kept for the book.
test-notebooks: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env --timeout=900 \
	  -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder --store-outputs $(EXECUTED) chapters

# Colab's environment: Colab's Python and what Colab preinstalls (tests/colab/constraints.txt),
# then the package --no-deps as a chapter's first cell installs it; `pip check` fails if the
# package asks for a version Colab lacks. There the widget tests, every chapter with a widget
# and a Part 3 chapter run (two single-threaded workers, as the notebook tests), computed
# afresh (no results cache) so that all their code runs on those versions. COLAB_PYTHON: a
# python3.13 that runs (pyenv's shim for a version not selected does not), else pyenv's 3.13,
# else the plain name, which the stamp's first line then rejects.
COLAB_PYTHON   ?= $(firstword $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13; \
                    do "$$p" -c '' 2>/dev/null && echo "$$p" && break; done) python3.13)
COLAB_VENV     ?= .venv-colab
COLAB_STAMP    := $(COLAB_VENV)/.installed
COLAB_PINS     := tests/colab/constraints.txt
COLAB_CHAPTERS := chapters/part1/01_degradation.ipynb chapters/part1/03_gradient_highway.ipynb \
                  chapters/part3/04_looking_inside.ipynb

$(COLAB_STAMP): $(COLAB_PINS) pyproject.toml
	@$(COLAB_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { \
	  echo "make test-colab needs Python 3.13, Colab's Python; '$(COLAB_PYTHON)' is missing or another version." \
	       "Install it (pyenv install 3.13, or your system's python3.13 package) or name it:" \
	       "make test-colab COLAB_PYTHON=/path/to/python3.13"; \
	  exit 1; }
	$(COLAB_PYTHON) -m venv --clear $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet -r $(COLAB_PINS)
	$(COLAB_VENV)/bin/python -m pip install --quiet -c $(COLAB_PINS) pytest pytest-timeout pytest-xdist nbval
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(COLAB_VENV)/bin/python -m pip check
	touch $@

# Colab's pinned matplotlib calls pyparsing names that its pinned pyparsing deprecates (14
# warnings), and its pinned ipykernel parses a date without a year, which Python 3.13 deprecates
# (one): Colab's warnings, not this package's, silenced by module so that others still show.
COLAB_QUIET  := $(foreach module,matplotlib._fontconfig_pattern matplotlib._mathtext ipykernel.jsonutil,\
                  -W "ignore::DeprecationWarning:$(module)")
COLAB_PYTEST := RESNETS_CACHE= OMP_NUM_THREADS=1 $(COLAB_VENV)/bin/python -m pytest --nbval-lax --nbval-current-env \
                  -n 2 --dist loadfile --no-loadscope-reorder $(COLAB_QUIET) \
                  --timeout=900 -p no:cacheprovider tests/test_widgets.py

test-colab: $(COLAB_STAMP)
	$(COLAB_PYTEST) $(COLAB_CHAPTERS)

# Every chapter in Colab's environment, before each release (not in `make test`: about 9 minutes
# more, measured for issue 33, on a CI run that is over its 15-minute aim already).
test-colab-all: $(COLAB_STAMP)
	$(COLAB_PYTEST) chapters

# The floors: the lowest versions the package declares (tests/floors/constraints.txt) on the
# lowest Python it declares, the package --no-deps; the unit tests of the networks, the data, the
# training engine, checkpoints, plots and widgets run there. Run before each release and after a
# floor changes; not in `make test`. FLOORS_PYTHON as COLAB_PYTHON, for 3.10.
FLOORS_PYTHON ?= $(firstword $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10; \
                   do "$$p" -c '' 2>/dev/null && echo "$$p" && break; done) python3.10)
FLOORS_VENV   ?= .venv-floors
FLOORS_STAMP  := $(FLOORS_VENV)/.installed
FLOORS_PINS   := tests/floors/constraints.txt
FLOORS_TESTS  := tests/test_models.py tests/test_train.py tests/test_data.py tests/test_checkpoints.py \
                 tests/test_runtime.py tests/test_viz.py tests/test_widgets.py

$(FLOORS_STAMP): $(FLOORS_PINS) pyproject.toml
	@$(FLOORS_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null || { \
	  echo "make test-floors needs Python 3.10, the lowest the package declares; '$(FLOORS_PYTHON)' is missing or" \
	       "another version. Install it (pyenv install 3.10, or your system's python3.10 package) or name it:" \
	       "make test-floors FLOORS_PYTHON=/path/to/python3.10"; \
	  exit 1; }
	$(FLOORS_PYTHON) -m venv --clear $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet -r $(FLOORS_PINS)
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c $(FLOORS_PINS) pytest pytest-timeout hypothesis nbformat
	$(FLOORS_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(FLOORS_VENV)/bin/python -m pip check
	touch $@

test-floors: $(FLOORS_STAMP)
	$(FLOORS_VENV)/bin/python -m pytest -p no:cacheprovider $(FLOORS_TESTS)

test-site: setup browser
	$(BIN)/python -m pytest -n 2 tests/site

# On a machine with a CUDA GPU: the CUDA tests, the benchmark, resnet20's time to accuracy and a
# full-profile chapter, recorded in benchmarks/gpu-check-<gpu>/ (see tools/gpu_check.sh). No
# `setup` first: a lent GPU machine may have torch and no internet (PY picks the interpreter).
gpu-check:
	bash tools/gpu_check.sh

# Re-record the outputs of the cells marked NBVAL_CHECK_OUTPUT (after an intended change).
golden: setup
	$(BIN)/python tests/golden.py update

clean:
	rm -rf _build
