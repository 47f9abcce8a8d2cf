"""A scenario's competing CPU load: one CPU-bound process pinned to each
CPU asked for, started before a trial and ended after it, by PID.

    with CpuLoad([1], ns) as load:
        t0 = load.runtime_s(); ...; used = load.runtime_s() - t0

It is started before the trial's cgroup is entered, so its CPU is not the
trial's own, and the orchestrator takes its run time out of the foreign
CPU: the scenario asked for it, so it never makes a trial `disturbed`.
It runs inside a namespace of the run (the topology's removal ends it if
anything is left) and dies with the orchestrator (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import logging
import subprocess
import sys

from harness.host import netns, procs
from harness.measure import owncpu

log = logging.getLogger(__name__)
SPIN = "while 1: pass"    # what the issue measured beside the suite: normal priority


class CpuLoad:
    def __init__(self, cpus, ns: str | None):
        self.cpus, self.ns = list(cpus), ns
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "CpuLoad":
        try:
            for cpu in self.cpus:
                argv = procs.dying_with_parent(["taskset", "-c", str(cpu), sys.executable, "-c",
                                                SPIN])
                self.procs.append(subprocess.Popen(netns.command(self.ns, argv),
                                                   stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL,
                                                   start_new_session=True))
                log.info("started a CPU load on CPU %d, pid %d", cpu, self.procs[-1].pid)
        except BaseException:
            self.__exit__()
            raise
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def runtime_s(self) -> float:
        """CPU seconds the load processes have run (nsenter, setpriv and
        taskset exec: the PID is the spinning interpreter's)."""
        return sum(owncpu.runtime_s(pid) for pid in self.pids())

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait(timeout=10)
            log.info("ended the CPU load pid %d", p.pid)
