# Two entry points, both idempotent: `make run` and `make test` install what
# is missing (Debian packages, a .venv with the compiled engine), then run.
# Everything needs root: the benchmarks build network namespaces.

SHELL := /bin/bash
comma := ,
space := $(empty) $(empty)
PYTHON ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := iproute2 nftables iptables iperf3 mptcpize util-linux procps linux-perf \
                build-essential python3 python3-dev python3-venv liburing-dev \
                libnetfilter-queue-dev libmnl-dev libmptcpd3
# mptcpd, the userspace path manager's daemon, is unpacked here and never installed:
# Debian's package enables and starts a service in the root namespace that sets the
# host's MPTCP endpoints. (Its library, libmptcpd3, installs no service.) For the same
# reason the packages above come without their recommendations: mptcpize recommends it.
MPTCPD_DIR := .deps/mptcpd
# The VM lane (netem, other kernels): installed only by the targets that need it.
VM_PACKAGES := qemu-system-x86 linux-image-amd64 busybox-static kmod iputils-ping
# Only the host tests need these: the HTML report is opened in a real headless browser,
# and the hosts lane's tests run sshd in namespaces (never started in the root namespace);
# strace lists every file a run writes (tests/root/test_run_writes.py).
TEST_PACKAGES := chromium openssh-server strace
ARGS ?=
# Every Python package the venv holds, pinned with hashes (docs/testing.md#the-lock-file).
LOCK := requirements.lock
LOCK_EXTRAS := test history hosts vm security
# The lock tool, pinned itself: uv resolves for a declared target (Python 3.11, any
# platform) whatever machine runs it, in seconds; pip installs from its output.
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
# The drift lane: the same extras, unpinned, newest releases (make test-latest).
LATEST_VENV := .venv-latest

.PHONY: run test unit lint test-host test-vm deps test-deps vm-deps apt-install venv bench-micro \
        clean-venv lock test-latest kernels repro-kernels security

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

# The kernel lab (docs/kernels.md): the kernels suite under the host's kernel and three
# Debian kernels fetched from the archive into the kernel cache (never installed); about
# 35 minutes here. Then the reproducers of the kernel findings under the same kernels.
KERNELS := debian:6.1 debian:6.12 debian:unstable
kernels: vm-deps
	$(PY) -m bench run --suite kernels --kernel host $(addprefix --kernel ,$(KERNELS)) $(ARGS)

# The security suite here, then in the VM lane under Debian's 6.1 (docs/security.md).
security: vm-deps
	$(PY) -m bench run --suite security $(ARGS)
	$(PY) -m bench run --suite security --kernel debian:6.1 $(ARGS)

repro-kernels: vm-deps
	for repro in single_link rcvlowat; do \
	    /usr/bin/python3 docs/repro/$$repro.py 4; \
	    for k in $(KERNELS); do $(PY) -m bench vm --kernel $$k --vm-timeout 900 -- \
	        /usr/bin/python3 docs/repro/$$repro.py 4; done; \
	done

# Install only the Debian packages that are missing (fast when none are).
deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(APT_PACKAGES)" APT_FLAGS=--no-install-recommends
	@$(MAKE) --no-print-directory $(MPTCPD_DIR)/usr/libexec/mptcpd

$(MPTCPD_DIR)/usr/libexec/mptcpd:
	rm -rf $(MPTCPD_DIR).tmp && mkdir -p $(MPTCPD_DIR).tmp
	cd $(MPTCPD_DIR).tmp && { apt-get download -q mptcpd || { apt-get update -q && apt-get download -q mptcpd; }; }
	dpkg-deb -x $(MPTCPD_DIR).tmp/mptcpd_*.deb $(MPTCPD_DIR).tmp/root
	dpkg-deb -f $(MPTCPD_DIR).tmp/mptcpd_*.deb Version > $(MPTCPD_DIR).tmp/root/VERSION
	rm -rf $(MPTCPD_DIR) && mv $(MPTCPD_DIR).tmp/root $(MPTCPD_DIR) && rm -rf $(MPTCPD_DIR).tmp

test-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(TEST_PACKAGES)"

vm-deps: deps venv
	@$(MAKE) --no-print-directory apt-install PKGS="$(VM_PACKAGES)"

apt-install:
	@missing=$$(for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_FLAGS) $$missing; \
	fi

venv: $(VENV)/.installed

# Exactly the locked packages, hash-checked, then the project itself without resolving
# anything (its build requirements are in the lock too). A changed lock starts a new
# venv, so nothing of the old one stays; a changed C file only rebuilds the project.
$(VENV)/.installed: pyproject.toml setup.py $(LOCK) $(wildcard harness/csrc/engine/*.c harness/csrc/engine/*.h harness/csrc/delayline/*.c)
	cmp -s $(LOCK) $(VENV)/$(LOCK) || rm -rf $(VENV)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	cp $(LOCK) $(VENV)/$(LOCK)
	touch $@

# Refresh the lock after a change of pyproject.toml's requirements: the pins already
# there stay where they can. `make lock ARGS=--upgrade` moves every pin to the newest
# release (after `make test-latest` passed), `ARGS="--upgrade-package NAME"` one.
lock: $(LOCK_VENV)/bin/uv
	$(LOCK_VENV)/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' > $(LOCK_VENV)/build.in
	$(LOCK_VENV)/bin/uv pip compile -q pyproject.toml $(LOCK_VENV)/build.in $(addprefix --extra ,$(LOCK_EXTRAS)) \
	    --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' \
	    -o $(LOCK) $(ARGS)

$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q uv==$(UV_VERSION)

# The drift lane: a venv from the unpinned requirements (whatever is newest today),
# then the unit and root tiers in it. Finds a release that breaks something on purpose.
test-latest: deps test-deps
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install -q --upgrade pip setuptools wheel
	$(LATEST_VENV)/bin/pip install -q -e '.[$(subst $(space),$(comma),$(LOCK_EXTRAS))]'
	MPTCP_BENCH_DRIFT=1 $(LATEST_VENV)/bin/python -m pytest tests/unit tests/root $(ARGS)

# Engine micro-benchmarks (skipped by the default test run).
bench-micro: deps venv
	$(PY) -m pytest tests/perf --benchmark-only $(ARGS)

clean-venv:
	rm -rf $(VENV) $(LATEST_VENV) $(LOCK_VENV) .deps build *.egg-info harness/*.so
