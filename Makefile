# Two entry points, both idempotent: `make run` and `make test` install what
# is missing (Debian packages, a .venv with the compiled engine), then run.
# Everything needs root: the benchmarks build network namespaces.

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := iproute2 nftables iptables iperf3 mptcpize util-linux procps \
                build-essential python3 python3-dev python3-venv liburing-dev
# Only the tests need these: the HTML report is opened in a real headless browser.
TEST_APT_PACKAGES := chromium
ARGS ?=

.PHONY: run test deps test-deps venv bench-micro clean-venv

run: deps venv
	$(PY) -m bench run $(ARGS)

test: deps test-deps venv
	$(PY) -m pytest $(ARGS)

# Install only the Debian packages that are missing (fast when none are).
define install_missing
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

deps:
	$(call install_missing,$(APT_PACKAGES))

test-deps:
	$(call install_missing,$(TEST_APT_PACKAGES))

venv: $(VENV)/.installed

# Re-install (and recompile the engine) only when the project's build inputs change.
$(VENV)/.installed: pyproject.toml setup.py harness/_engine.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Engine micro-benchmarks (skipped by the default test run).
bench-micro: deps venv
	$(PY) -m pytest tests/bench --benchmark-only $(ARGS)

clean-venv:
	rm -rf $(VENV) build *.egg-info harness/*.so
