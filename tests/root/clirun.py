"""Running `python -m bench` as a user does, for the root tests: real
processes, real namespaces, real signals."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchcli import ROOT, bench, start  # noqa: F401  (the root tests take them from here)

from harness import ownership
from harness.host import netns

# A small run: one unshaped link, short trials, no warm-up.
TINY = ('[scenario.tiny]\ndescription = "d"\nlinks = [{ rate_mbit = 100 }]\n'
        '[suite.tiny]\ndescription = "d"\nscenarios = ["tiny"]\nrepeat = 3\nwarmup = 0\n'
        'duration_s = 1\n')


# What a measured trial may come out as, whatever the kernel's mood:
# a stall is a finding (classified, counted, shown), never a test failure.
MEASURED = {"ok", "stalled"}


def env_without(tool: str, tmp_path: Path) -> dict:
    """The environment with a PATH holding every command of this machine
    except `tool` (symlinks in tmp_path/bin)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for name in os.listdir(d) if os.path.isdir(d) else ():
            if name != tool and not (bindir / name).exists():
                (bindir / name).symlink_to(os.path.join(d, name))
    return {**os.environ, "PATH": str(bindir)}


# `python -m bench` on a kernel without sch_netem, whatever this kernel has:
# adding a netem qdisc gets the kernel's answer for an unknown kind (ENOENT),
# so the capability probe and everything after it see what such a kernel shows.
NO_NETEM = """
import contextlib, errno, sys
from pyroute2.netlink.exceptions import NetlinkError
from harness.host import netns
from bench.cli import main

class NoNetem:
    def __init__(self, ipr):
        self.ipr = ipr
    def __getattr__(self, name):
        return getattr(self.ipr, name)
    def tc(self, command, kind=None, *args, **kw):
        if kind == "netem" or kw.get("kind") == "netem":
            raise NetlinkError(errno.ENOENT, "Specified qdisc kind is unknown")
        return self.ipr.tc(command, kind, *args, **kw)

real = netns.iproute

@contextlib.contextmanager
def iproute(*args, **kw):
    with real(*args, **kw) as ipr:
        yield NoNetem(ipr)

netns.iproute = iproute
sys.exit(main(sys.argv[1:]))
"""


def bench_without_netem(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_NETEM, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def wait_for_namespaces(owner_pid: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owners = {e["owner"] for e in ownership.live_owners() if e["pid"] == owner_pid}
        names = [n for n in netns.list_names() if any(f"-{o}-" in n for o in owners)]
        if len(names) == 3:
            return names
        time.sleep(0.05)
    raise AssertionError("the run never built its topology")


def wait_for_trials(out: Path, n: int, timeout: float = 90) -> Path:
    """The run directory under `out` once its journal holds n trials."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for journal in out.glob("*/trials.jsonl"):
            if journal.read_text().count("\n") >= n:
                return journal.parent
        time.sleep(0.05)
    raise AssertionError(f"no run under {out} journaled {n} trial(s)")


def journal(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "trials.jsonl").read_text().splitlines()]


def mine(run: Path) -> list[str]:
    """Namespaces of this run still present."""
    return [n for n in netns.list_names() if run.name in n]


def wait_for_workers(run: Path, timeout: float = 10) -> dict[int, str]:
    """The processes inside the run's namespaces, once a trial has some."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = netns.pids_in(mine(run))
        if pids:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"no trial of {run.name} started its processes")


def new_namespaces(before: list[str]) -> list[str]:
    """Project namespaces that appeared since `before` and belong to no other
    live process (a concurrent run on a shared machine is not ours)."""
    from harness import cleanup
    return sorted(n for n in set(netns.list_names()) - set(before)
                  if not ownership.is_live(cleanup.owner_of(n)))
