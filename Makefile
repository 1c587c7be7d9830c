# thunlp-repro: set-up, tests, benchmarks and reproduction targets.
# A fresh clone needs only Python >= 3.11 and make: every target runs `setup` when needed.

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
PROFILE    ?= quick
GROUP      ?= mini
PY         := $(VENV)/bin/python
CLI        := $(VENV)/bin/thunlp-repro
STAMP      := $(VENV)/.installed
ASSETS_OK  := $(VENV)/.assets-$(GROUP)
SANDBOX_OK := $(VENV)/.sandbox
BROWSER_OK := $(VENV)/.browser

.PHONY: setup sandbox browser assets lint format test test-slow test-gpu bench bench-ci bench-compare \
        reproduce-all report clean

# torch first (a CPU build unless TORCH_SPEC says otherwise), or pip resolves a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# ChatDev runs generated programs only inside bubblewrap namespaces: install it where we may
# (root with apt-get, or passwordless sudo), else say how; then report which isolation works.
$(SANDBOX_OK): $(STAMP)
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then APT="apt-get"; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then APT="sudo apt-get"; fi; \
	  if [ -n "$$APT" ]; then echo "installing bubblewrap ($$APT)"; \
	    $$APT install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { $$APT update -qq >/dev/null 2>&1 && $$APT install -y -qq bubblewrap >/dev/null 2>&1; } || true; \
	  else echo "bubblewrap missing: install it (apt/dnf/pacman: bubblewrap) to run ChatDev's tests"; fi; }
	@$(CLI) chatdev sandbox-check || true
	@touch $@

sandbox: $(SANDBOX_OK)

# `chatdev view`'s test renders the page in headless Chromium: install Debian's chromium the same
# way (root with apt-get, or passwordless sudo), else say so; the test skips without a browser.
$(BROWSER_OK): $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then APT="apt-get"; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then APT="sudo apt-get"; fi; \
	  if [ -n "$$APT" ]; then echo "installing chromium ($$APT)"; \
	    $$APT install -y -qq chromium >/dev/null 2>&1 || \
	    { $$APT update -qq >/dev/null 2>&1 && $$APT install -y -qq chromium >/dev/null 2>&1; } || true; \
	  else echo "chromium missing: install it (apt: chromium) to run the chatdev view test"; fi; }
	@touch $@

browser: $(BROWSER_OK)

setup: $(STAMP) $(SANDBOX_OK)

# Offline models and data into $THUNLP_REPRO_HOME (default ~/.cache/thunlp-repro), verified.
# The install is idempotent; the stamp only saves re-hashing on every `make test`.
$(ASSETS_OK): $(STAMP) $(SANDBOX_OK) shared/assets/assets.lock
	$(CLI) assets install --group $(GROUP)
	touch $@

assets: $(ASSETS_OK) $(BROWSER_OK)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The test command (README, .ci/run): lint, then the default suite with the mini assets required.
test: lint assets
	THUNLP_REPRO_REQUIRE_ASSETS=1 $(VENV)/bin/pytest

test-slow: assets
	THUNLP_REPRO_REQUIRE_ASSETS=1 $(VENV)/bin/pytest -m slow

test-gpu: setup
	$(VENV)/bin/pytest -m gpu

BENCH_ARGS := benchmarks --benchmark-only --benchmark-json=benchmarks/results/latest.json \
              --benchmark-autosave --benchmark-storage=file://benchmarks/.storage \
              --benchmark-columns=min,median,iqr,ops -p no:cacheprovider -o addopts="" \
              -o python_files="bench_*.py" -s

bench: setup
	mkdir -p benchmarks/results
	$(VENV)/bin/pytest $(BENCH_ARGS)
	$(PY) benchmarks/summary.py

# CI: the same suite once more after the tests, report only (prints the ratios, saves JSON).
bench-ci: setup
	mkdir -p benchmarks/results
	-$(VENV)/bin/pytest $(BENCH_ARGS) -q
	$(PY) benchmarks/summary.py

bench-compare: setup
	mkdir -p benchmarks/results
	$(VENV)/bin/pytest $(BENCH_ARGS) --benchmark-compare --benchmark-compare-fail=median:25%

# PROFILE=quick (default: every headline retrained, ~30 min on 2 cores) | full (the committed
# mini study, hours) | paper (GPUs, hub). One paper: reproduce-ki, reproduce-apet, ...
reproduce-%: assets
	$(CLI) reproduce-all --profile $(PROFILE) --paper $*

reproduce-all: assets
	$(CLI) reproduce-all --profile $(PROFILE)

report: setup
	$(CLI) report

clean:
	rm -rf runs .pytest_cache .ruff_cache benchmarks/.storage
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
