# Each target installs what it needs first, so it works on a fresh machine.
#
# Which Python: `make PYTHON=/path/to/python ...` wins. Otherwise, inside an active virtual
# environment or conda env (AIStudio's included) its interpreter is used as it is; anywhere else
# (a system Python, which Debian/Ubuntu mark "externally managed") a project venv $(VENV) is made
# first, with --system-site-packages so that a preinstalled Paddle (e.g. paddlepaddle-gpu) is seen
# and kept rather than replaced.
CONFIG ?= configs/deepfill_v1/quickstart.yml
VENV ?= .venv

# `python` when it is a Python 3, else `python3` (stock Debian/Ubuntu have no `python`).
HOST_PYTHON := $(shell for p in python python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
ifeq ($(HOST_PYTHON),)
$(error no Python 3 found: install python3 (Debian/Ubuntu: apt install python3 python3-venv))
endif
# 1 inside a venv (sys.prefix differs from the base) or a conda env (conda-meta/ in the prefix).
IN_ENV := $(shell $(HOST_PYTHON) -c 'import os, sys; print(int(sys.prefix != sys.base_prefix or os.path.isdir(os.path.join(sys.prefix, "conda-meta"))))')

ifeq ($(origin PYTHON),command line)
ENV_READY :=
else ifeq ($(IN_ENV),1)
PYTHON := $(HOST_PYTHON)
ENV_READY :=
else
PYTHON := $(VENV)/bin/python
ENV_READY := $(VENV)/bin/python
endif

.PHONY: install install-dev quickstart test test-fast venv

venv: $(ENV_READY)

$(VENV)/bin/python:
	@echo "not inside a virtual environment: creating $(VENV) (with --system-site-packages) from $(HOST_PYTHON)"
	@$(HOST_PYTHON) -m venv --system-site-packages $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(HOST_PYTHON) -m venv' failed; on Debian/Ubuntu run: sudo apt install python3-venv" >&2; exit 1; }
	@echo "later, for the ppinpaint command: source $(VENV)/bin/activate"

install: $(ENV_READY)
	$(PYTHON) tools/install_deps.py --editable

install-dev: $(ENV_READY)
	$(PYTHON) tools/install_deps.py --dev --editable

quickstart: install
	$(PYTHON) tools/quickstart.py -c $(CONFIG)

test: install-dev
	$(PYTHON) -m pytest -x -q

test-fast: install-dev
	$(PYTHON) -m pytest -x -q -m "not slow"
