# Two commands on a fresh Debian 12 / Ubuntu machine: `make demo` and `make test`.
# Both run the idempotent set-up first (Debian packages, .venv, the project).
PY := .venv/bin/python

.PHONY: setup demo test lint bench clean

setup:
	@./deploy/setup/setup.sh

demo: setup
	@.venv/bin/cityhub demo

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

PACKAGES := core adapters gb28181 streams edge hub devkit bench

lint: setup
	@$(PY) -m ruff check $(PACKAGES) tests
	@$(PY) -m mypy $(PACKAGES) tests
	@.venv/bin/lint-imports

clean:
	rm -rf .venv .cityhub .pytest_cache
