"""A worker process: one end of one trial, run inside a namespace.

    python -m harness.traffic.worker '<json config>'

It enters the namespace, pins itself, runs its role of the trial's workload
(harness/workloads) and writes JSON lines to stdout: {"event": "listening",
"port": N} (receiver), then one {"event": "result", ...} or {"event":
"error", ...}.  It dies with its parent (PR_SET_PDEATHSIG), so a killed
orchestrator leaves no worker behind.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from harness import _engine
from harness.host import netns
from harness.traffic import engine, workloads
from harness.traffic.drivers import STOP_SIGNAL
from harness.traffic.workloads import common
from harness.traffic.workloads.common import emit


def enter(cfg: dict) -> None:
    _engine.set_pdeathsig(signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before PDEATHSIG was armed
        sys.exit(1)
    if cfg["netns"]:      # None on a remote host: its own namespace
        netns.enter(cfg["netns"])
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})


FAULT_ENV = "MPTCP_BENCH_TEST_FAULT"


def inject_test_fault(role: str) -> None:
    """Tests only: when $MPTCP_BENCH_TEST_FAULT names a file that says
    "<role> hang" or "<role> crash", the first worker of that role to claim
    it (by removing it) hangs or dies by SIGKILL — once, so that the test
    can check that the trial fails with its reason and the run goes on."""
    path = os.environ.get(FAULT_ENV)
    if not path:
        return
    try:
        with open(path) as f:
            wanted, fault = f.read().split()
        if wanted != role:
            return
        os.unlink(path)
    except (OSError, ValueError):   # absent, malformed, or claimed by another worker
        return
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(3600)


def _stop(*_) -> None:
    common.stop_requested = True       # between system calls (await_peer)
    _engine.request_stop()             # inside the engine's loop


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    signal.signal(STOP_SIGNAL, _stop)
    try:
        enter(cfg)
        inject_test_fault(cfg["role"])
        result = workloads.role(cfg.get("workload", "bulk"), cfg["role"])(cfg)
    except engine.EngineError as exc:
        emit("error", **exc.as_dict())
        return 3
    result["cpu"] = sorted(os.sched_getaffinity(0))
    if common.tcp_retries:
        result["tcp_retries"] = common.tcp_retries
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
