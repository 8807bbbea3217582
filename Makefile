# Each target installs what it needs first, so it works on a fresh machine.
PYTHON ?= python
CONFIG ?= configs/deepfill_v1/quickstart.yml

.PHONY: install install-dev quickstart test test-fast

install:
	$(PYTHON) tools/install_deps.py --editable

install-dev:
	$(PYTHON) tools/install_deps.py --dev --editable

quickstart: install
	$(PYTHON) tools/quickstart.py -c $(CONFIG)

test: install-dev
	$(PYTHON) -m pytest -x -q

test-fast: install-dev
	$(PYTHON) -m pytest -x -q -m "not slow"
