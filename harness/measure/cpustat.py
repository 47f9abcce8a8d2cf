"""Whole-machine CPU time from /proc/stat, for the busy time of a window.

Per-process rusage misleads on veth: softirq work is billed to whichever
task was running, so the sender pays for much of the receive path.  The
busy time of the whole machine (user + nice + system + irq + softirq) over
exactly the trial window is the figure that compares fairly.
"""
from __future__ import annotations

import os

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
BUSY = ("user", "nice", "system", "irq", "softirq")
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def parse(text: str) -> dict[str, dict[str, int]]:
    """{"cpu": {...}, "cpu0": {...}, ...} in clock ticks."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        name, *values = line.split()
        out[name] = {f: int(v) for f, v in zip(FIELDS, values)}
    return out


def read() -> dict[str, dict[str, int]]:
    with open("/proc/stat") as f:
        return parse(f.read())


def delta(before: dict, after: dict) -> dict:
    """Seconds spent per category over the window, machine-wide and per CPU
    (busy only), plus the window's capacity (CPUs x wall time in ticks)."""
    total = {f: (after["cpu"][f] - before["cpu"][f]) * TICK_S for f in FIELDS}
    per_cpu = {
        name: sum(after[name][f] - before[name][f] for f in BUSY) * TICK_S
        for name in after if name != "cpu" and name in before
    }
    return {
        "busy_s": sum(total[f] for f in BUSY),
        **{f"{f}_s": total[f] for f in FIELDS},
        "capacity_s": sum(total.values()),
        "per_cpu_busy_s": per_cpu,
    }


PF_KTHREAD = 0x00200000


def parse_pid_stat(text: str) -> tuple[str, int, bool]:
    """(comm, utime+stime in ticks, is a kernel thread) from /proc/PID/stat."""
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()   # fields[0] is field 3, "state"
    flags, utime, stime = int(fields[6]), int(fields[11]), int(fields[12])
    return comm, utime + stime, bool(flags & PF_KTHREAD)


def process_times() -> dict[int, tuple[str, int, bool]]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                out[int(entry)] = parse_pid_stat(f.read())
        except (OSError, ValueError):
            continue
    return out
