# Two entry points, both idempotent: `make run` and `make test` install what
# is missing (Debian packages, a .venv with the compiled engine), then run.
# Everything needs root: the benchmarks build network namespaces.

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := iproute2 nftables iptables iperf3 mptcpize util-linux procps linux-perf \
                build-essential python3 python3-dev python3-venv liburing-dev \
                libnetfilter-queue-dev libmnl-dev
# The VM lane (netem, other kernels): installed only by the targets that need it.
VM_PACKAGES := qemu-system-x86 linux-image-amd64 busybox-static kmod iputils-ping
# Only the host tests need these: the HTML report is opened in a real headless browser,
# and the hosts lane's tests run sshd in namespaces (never started in the root namespace).
TEST_PACKAGES := chromium openssh-server
ARGS ?=

.PHONY: run test unit lint test-host test-vm deps test-deps vm-deps apt-install venv bench-micro clean-venv

run: deps venv
	$(PY) -m bench run $(ARGS)

# The host tests, then the netem tests in one boot of the VM lane.
test: test-host test-vm

# The unit tier alone: no root, no Debian packages, seconds.
unit: venv
	$(PY) -m pytest tests/unit -q $(ARGS)

lint: deps venv
	$(PY) -m ruff check .

test-host: deps test-deps venv
	$(PY) -m pytest --ignore=tests/lane $(ARGS)

# A kernel matrix booted from the host, then the netem tests inside the VM.
test-vm: vm-deps
	$(PY) -m pytest tests/lane -q -p no:cacheprovider
	$(PY) -m bench vm --vm-timeout 1500 -- $(PY) -m pytest tests/vm -q -p no:cacheprovider

# Install only the Debian packages that are missing (fast when none are).
deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(TEST_PACKAGES)"

vm-deps: deps venv $(VENV)/.vm-installed
	@$(MAKE) --no-print-directory apt-install PKGS="$(VM_PACKAGES)"

$(VENV)/.vm-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,vm,history,hosts]'
	touch $@

apt-install:
	@missing=$$(for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

venv: $(VENV)/.installed

# Re-install (and recompile the engine) only when the project's build inputs change.
$(VENV)/.installed: pyproject.toml setup.py $(wildcard harness/csrc/*.c harness/csrc/*.h harness/delaysrc/*.c)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,history,hosts]'
	touch $@

# Engine micro-benchmarks (skipped by the default test run).
bench-micro: deps venv
	$(PY) -m pytest tests/perf --benchmark-only $(ARGS)

clean-venv:
	rm -rf $(VENV) build *.egg-info harness/*.so
