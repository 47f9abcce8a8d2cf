"""A worker process: one end of one trial, run inside a namespace.

    python -m harness.worker '<json config>'

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

from harness import _engine, engine, netns
from harness.workloads import ROLES
from harness.workloads.common import emit


def enter(cfg: dict) -> None:
    _engine.set_pdeathsig(signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before PDEATHSIG was armed
        sys.exit(1)
    fd = os.open(netns.path(cfg["netns"]), os.O_RDONLY)
    try:
        _engine.setns(fd)
    finally:
        os.close(fd)
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    try:
        enter(cfg)
        result = ROLES[cfg.get("workload", "bulk"), cfg["role"]](cfg)
    except engine.EngineError as exc:
        emit("error", **exc.as_dict())
        return 3
    result["cpu"] = sorted(os.sched_getaffinity(0))
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
