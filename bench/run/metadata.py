"""Run metadata: what makes two runs comparable, recorded once per run, and
what each scenario's topology looked like as read back from the kernel."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.lanes import vmlane
from bench.run import environment
from harness import _engine
from harness.host import sysinfo
from harness.measure import sockopts
from harness.net import capabilities

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mptcp-bench", "pyroute2", "numpy", "pandas", "pyperf", "rich", "pydantic")
SYSCTLS = ("net.mptcp", "net.ipv4.tcp_*", "net.core.rmem_*", "net.core.wmem_*",
           "net.core.default_qdisc", "net.core.netdev_max_backlog", "net.ipv4.ip_forward")


def _git(*args: str) -> str | None:
    try:
        # --no-optional-locks: `git status` would otherwise take index.lock and
        # refresh the index, a write outside the run directory that can also
        # collide with a developer's git command.
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(PROJECT_ROOT), *args],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_metadata(argv: list[str], suite: dict) -> dict:
    status = _git("status", "--porcelain", "--untracked-files=no")
    tools = {name: capabilities.tool_version(name) for name in ("iperf3", "mptcpize")}
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": argv,
        "hostname": platform.node(),
        "kernel": sysinfo.kernel(),
        "cpu": sysinfo.cpu(),
        "loadavg_start": sysinfo.loadavg(),
        "python": sys.version.split()[0],
        "packages": _versions(),
        "environment": environment.record(),
        "tools": {**tools, "engine_compiler": _engine.COMPILER},
        "git": {"revision": _git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None},
        "suite": suite,
        "lane": vmlane.lane() or {"kind": "host"},
        # "Are there unsupported TCP options?", answered on this kernel.
        "socket_options": sockopts.matrix(sockopts.probe()),
        "pid": os.getpid(),
    }


def finish(meta: dict) -> None:
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta["loadavg_end"] = sysinfo.loadavg()
