"""Whose CPU a trial window held: the trial's own, and everyone else's.

own      = the trial cgroup's usage (harness.measure.cgroupcpu) + what ksoftirqd
           and the per-CPU kworkers ran on the trial's CPUs (packet work
           deferred out of the trial's tasks, and work queued from them:
           MPTCP's per-connection worker runs on the queuing CPU's
           kworker, 0.11-0.12 s of a 3-s bulk trial over 10 000
           connections).  Without CONFIG_IRQ_TIME_ACCOUNTING (this
           kernel) softirq run on return from a trial task's syscall is
           billed to that task, so it is in the cgroup already; adding
           /proc/stat's softirq would count it twice.
machine  = every task's run time over the window, from the v1 root
           cpuacct (exact, as own is), steal added; where there is none
           (cgroup v2), /proc/stat's busy ticks.  Ticks miss busy time
           that falls between them: on this VM a 4-s window of an
           unshaped transfer lost ~0.45 s of 8 CPU-seconds, and a 2-s
           request/response window ~0.45 s of 4, more than a 5 % foreign
           load, which then never showed (docs/method.md).
foreign  = machine - own: every process that lived inside the window,
           however briefly, unbound kworkers and kernel threads other
           than those above.

docs/method.md says what this includes and what it cannot.
"""
from __future__ import annotations

import functools
import os
import re
import time

from harness.measure import cgroupcpu, cpustat

KSOFTIRQD = re.compile(r"ksoftirqd/(\d+)$")
KWORKER = re.compile(r"kworker/(\d+):")     # per-CPU; kworker/uN:M are unbound


@functools.cache
def ksoftirqd_pids() -> dict[int, int]:
    """{cpu: pid of its ksoftirqd}, from one scan of /proc per process:
    per-CPU kernel threads live as long as their CPU is online."""
    out = {}
    for pid, (comm, _, kthread) in cpustat.process_times().items():
        m = KSOFTIRQD.match(comm)
        if kthread and m:
            out[int(m.group(1))] = pid
    return out


def runtime_s(pid: int) -> float:
    """A task's exact run time (/proc/PID/schedstat, ns), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def kworker_runtimes(procs: dict | None = None) -> dict[str, list]:
    """{pid: [cpu, run time s]} of every per-CPU kworker alive now: they come
    and go with the workqueues' load, so they are found at every reading,
    in `procs` (a cpustat.process_times() scan taken now) when given."""
    out = {}
    for pid, (comm, _, kthread) in (procs or cpustat.process_times()).items():
        m = KWORKER.match(comm)
        if kthread and m:
            out[str(pid)] = [int(m.group(1)), runtime_s(pid)]
    return out


class Probe:
    """Reads, from a process inside a trial cgroup (the orchestrator during
    the trial, or a worker), the cgroup's usage and each ksoftirqd's and
    per-CPU kworker's run time, so that a window's own CPU is taken at the same instants as its
    /proc/stat figures.  cgroup_s is None outside a project cgroup."""

    def __init__(self):
        found = cgroupcpu.hierarchy()
        self.found = found
        self.path = None
        if found:
            rel = cgroupcpu.own_cgroup(found[0]).strip("/")
            if rel.startswith(f"{cgroupcpu.PREFIX}-"):
                self.kind, self.path = found[0], found[1] / rel
        self.softirqd = dict(ksoftirqd_pids())

    def read(self, procs: dict | None = None) -> dict:
        """`procs`: a /proc scan the caller took at this instant, reused
        rather than scanning twice."""
        usage = None
        if self.path is not None:
            try:
                usage = cgroupcpu.read_usage_s(self.kind, self.path)
            except OSError:
                usage = None
        return {"cgroup_s": usage, "machine_s": cgroupcpu.machine_usage_s(self.found),
                "ksoftirqd_s": {str(c): runtime_s(p) for c, p in self.softirqd.items()},
                "kworkers": kworker_runtimes(procs)}


def _diff(before: dict, after: dict, key: str) -> float | None:
    a, b = before.get(key), after.get(key)
    return None if a is None or b is None else b - a


def delta(before: dict, after: dict) -> dict:
    """Each part over the window; kworkers per CPU (one born inside the
    window counts from 0, one that ended inside it is lost: they live
    minutes when idle)."""
    kw: dict[str, float] = {}
    old = before.get("kworkers", {})
    for pid, (cpu, s) in after.get("kworkers", {}).items():
        ran = s - old[pid][1] if pid in old else s
        kw[str(cpu)] = kw.get(str(cpu), 0.0) + max(0.0, ran)
    return {"cgroup_s": _diff(before, after, "cgroup_s"),
            "machine_s": _diff(before, after, "machine_s"),
            "ksoftirqd_s": {c: after["ksoftirqd_s"][c] - v
                            for c, v in before["ksoftirqd_s"].items() if c in after["ksoftirqd_s"]},
            "kworker_s": kw}


def trial_cpus(cpus, available) -> list[int]:
    """The CPUs the trial's workers were pinned to; every CPU when one
    of them was not pinned."""
    return sorted(int(c) for c in available) if any(c is None for c in cpus) else sorted(set(cpus))


def account(window: dict, cpus=(None,)) -> dict:
    """Own, machine and foreign CPU seconds of a window: a cpustat.delta
    with the Probe delta of the same instants under "own"."""
    own = window.get("own") or {"cgroup_s": None, "ksoftirqd_s": {}}
    soft, kw = own["ksoftirqd_s"], own.get("kworker_s", {})
    soft_s = sum(soft.get(str(c), 0.0) for c in trial_cpus(cpus, soft))
    kw_s = sum(kw.get(str(c), 0.0) for c in trial_cpus(cpus, soft or kw))
    own_s = None if own["cgroup_s"] is None else own["cgroup_s"] + soft_s + kw_s
    exact = own.get("machine_s")
    machine = (window["busy_s"] if exact is None else exact) + window.get("steal_s", 0.0)
    foreign = None if own_s is None else max(0.0, machine - own_s)
    wall = window.get("wall_s") or 0.0
    return {"own_s": own_s, "cgroup_s": own["cgroup_s"], "ksoftirqd_s": soft_s, "kworker_s": kw_s,
            "machine_s": machine, "machine_from": "ticks" if exact is None else "cpuacct",
            "foreign_s": foreign, "wall_s": wall,
            "foreign_share": foreign / wall if foreign is not None and wall > 0 else None}


def foreign_processes(before: dict, after: dict, exclude: set[int], foreign_s: float | None,
                      top: int = 5) -> list[list]:
    """The foreign load's top processes by CPU over the window: those alive
    at its end (counted from their start when they started inside it), and
    the rest of the foreign time as "(processes that ended inside the
    window, and kernel threads)"."""
    per_comm: dict[str, int] = {}
    for pid, (comm, ticks, kthread) in after.items():
        if pid in exclude or kthread:
            continue
        used = ticks - before[pid][1] if pid in before else ticks
        if used > 0:
            per_comm[comm] = per_comm.get(comm, 0) + used
    seen = [[c, t * cpustat.TICK_S] for c, t in sorted(per_comm.items(), key=lambda kv: -kv[1])]
    if foreign_s is not None:
        rest = foreign_s - sum(s for _, s in seen)
        if rest > cpustat.TICK_S:
            seen.append(["(ended inside the window, or kernel threads)", rest])
            seen.sort(key=lambda cs: -cs[1])
    return seen[:top]


def sample_machine(seconds: float = 2.0) -> dict:
    """The machine's busy time while this process sleeps `seconds`: all of
    it foreign (preflight's look at a machine before a run)."""
    found = cgroupcpu.hierarchy()
    procs0, stat0, t0 = cpustat.process_times(), cpustat.read(), time.monotonic()
    exact0 = cgroupcpu.machine_usage_s(found)
    time.sleep(seconds)
    exact1 = cgroupcpu.machine_usage_s(found)
    stat1, procs1, wall = cpustat.read(), cpustat.process_times(), time.monotonic() - t0
    steal = (stat1["cpu"]["steal"] - stat0["cpu"]["steal"]) * cpustat.TICK_S
    busy = (exact1 - exact0 + steal if exact0 is not None and exact1 is not None else
            sum(stat1["cpu"][f] - stat0["cpu"][f] for f in (*cpustat.BUSY, "steal")) * cpustat.TICK_S)
    return {"busy_s": busy, "wall_s": wall, "share": busy / wall,
            "top": foreign_processes(procs0, procs1, {os.getpid()}, busy)}
