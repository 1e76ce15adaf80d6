# The two commands a user needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOG := $(VENV)/install.log

.PHONY: install system-deps demo test lint bench clean

install: $(STAMP)

# Everything (all extras + dev tools). pip's messages go to $(LOG); on failure its tail is shown.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (pip log: $(LOG)) ..."
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[dev,all]'; } \
		>$(LOG) 2>&1 || { tail -n 25 $(LOG) >&2; echo "install failed; full log: $(LOG)" >&2; exit 1; }
	@touch $(STAMP)

# System packages later parts need; installed only when missing.
system-deps:
	@./scripts/install_system_deps.sh

demo: install
	@$(PY) -m src.demo.paper_session --dashboard --ticks 6000 --interval 0.05

test: install system-deps
	$(PY) -m pytest -q

# ruff on everything, then mypy --strict on the packages listed in pyproject.toml [tool.mypy].
lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
