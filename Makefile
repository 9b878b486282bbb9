# cotmix: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch is pinned here (the CPU wheel on this machine); pyproject.toml only declares a range.
TORCH  := torch==2.13.0

.PHONY: install test test-fast demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

# The headline experiment on the CPU: NTP, then RL, beside an NTP-only baseline (a fresh run each time).
demo: install
	rm -rf runs/demo
	$(VENV)/bin/cotmix run --preset demo --out runs/demo $(ARGS)

# Throughput against Hugging Face transformers and TRL in one run; prints ratios, writes runs/bench.json.
bench: install
	$(VENV)/bin/cotmix bench --out runs/bench.json

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
