"""Names and limits that the system side and the results side both need,
in pure Python: a notebook that opens, compares or gates runs imports this,
never the compiled engine (tests/unit/test_results_side.py)."""
from __future__ import annotations

import re

# The engine's send and receive modes, in the order of harness/csrc/engine's
# enums; the compiled module reports its own lists and a unit test holds
# the two equal.
SEND_MODES: tuple[str, ...] = ("send", "sendfile", "splice", "zerocopy", "io_uring", "io_uring_zc")
RECV_MODES: tuple[str, ...] = ("recv", "splice", "trunc")
ZERO_COPY_MODES: tuple[str, ...] = ("zerocopy", "io_uring_zc")

# MPTCP_PM_ADDR_FLAG_* from include/uapi/linux/mptcp.h
PM_FLAGS = {"signal": 1, "subflow": 2, "backup": 4, "fullmesh": 8, "implicit": 16, "laminar": 32}
PM_MAX_LIMIT = 8  # MPTCP_PM_ADDR_MAX: the kernel refuses larger limits

# Interface offloads a scenario may set and every trial records, by their
# ethtool feature names (ethtool -k; harness.net.offloads).
OFFLOADS = {"gro": "rx-gro", "gro_hw": "rx-gro-hw", "lro": "rx-lro",
            "gso": "tx-generic-segmentation", "tso": "tx-tcp-segmentation",
            "tso6": "tx-tcp6-segmentation"}

# A sysctl key as a scenario may name it (dotted words).
SYSCTL_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")

# Connections of one trial: 10 000 is the scale suite's top (a worker holds
# them within RLIMIT_NOFILE, harness.traffic.workloads.common.fd_room).
MAX_FLOWS = 10_000
# Linux's default listen backlog cap (net.core.somaxconn) and SYN queue
# (net.ipv4.tcp_max_syn_backlog) in a new namespace; a trial of more
# connections than this raises both in its own namespaces.
DEFAULT_BACKLOG = 4096
