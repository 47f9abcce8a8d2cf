"""Whose CPU a trial used, and whether a neighbour disturbed it.

The trial's own CPU (its cgroup plus ksoftirqd on its CPUs, harness.measure.owncpu)
is what CPU-per-GB and CPU-per-transaction state; the machine's busy time
less that is foreign.  A trial whose foreign CPU passes DISTURBED_SHARE of
its window (in CPUs: 0.03 is 3 % of one CPU; `run --disturbed-above`) is
`disturbed`: the orchestrator re-runs it, and it stays out of every
statistic.  docs/method.md has the why of the
threshold and what the accounting cannot see.
"""
from __future__ import annotations

import math
import os

from bench.lanes import vmlane
from harness.measure import owncpu

DISTURBED_SHARE = 0.03
# A shared runner (or a test tier whose subject is not the machine) can move
# the default: `run --disturbed-above` wins over it.
DISTURBED_ENV = "MPTCP_BENCH_DISTURBED_ABOVE"    # per cent of one CPU
COLUMNS = ("cpu_own_s", "cpu_foreign_s", "cpu_machine_s", "cpu_foreign_share", "cpu_own_s_per_gb",
           "cpu_own_per_s", "cpu_own_us_per_transaction", "cpu_own_us_per_connection",
           "cpu_load_s", "cpu_controller_share")
GB = 1e9


def own_cpu(rec: dict, window: dict, top_foreign: list | None, load: dict | None = None) -> None:
    """The own/foreign columns of a record measured over `window` (a
    cpustat delta with the trial cgroup's part under "own"); the scenario's
    competing load (harness.measure.cpuload) is neither own nor foreign."""
    acc = owncpu.account(window, (rec["cpu_sender"], rec["cpu_receiver"]))
    own, gb = acc["own_s"], (rec.get("bytes") or 0) / GB
    load_s = _load_in(load, acc["wall_s"])
    if load_s is not None and acc["foreign_s"] is not None:
        acc["foreign_s"] = max(0.0, acc["foreign_s"] - load_s)
        acc["foreign_share"] = acc["foreign_s"] / acc["wall_s"] if acc["wall_s"] > 0 else None
    rec.update({
        "cpu_own_s": own, "cpu_foreign_s": acc["foreign_s"], "cpu_machine_s": acc["machine_s"],
        "cpu_foreign_share": acc["foreign_share"], "cpu_load_s": load_s,
        "cpu_own_s_per_gb": own / gb if own is not None and gb and rec["workload"] == "bulk"
        else None,
        # CPUs used: at a link-limited rate much of the cost is per second
        # (timers, wake-ups), so two rates compare here, not per GB.
        "cpu_own_per_s": own / acc["wall_s"] if own is not None and acc["wall_s"] > 0 else None,
    })
    if own is not None and rec.get("cpu_system_us_per_transaction") is not None:
        rec["cpu_own_us_per_transaction"] = own * 1e6 / rec["transactions"]
    if own is not None and rec.get("connections"):
        rec["cpu_own_us_per_connection"] = own * 1e6 / rec["connections"]
    rec["cpu_accounting"] = {**acc, "top_foreign": top_foreign or [],
                             **({"load": {**load, "in_window_s": load_s}} if load else {})}


def _load_in(load: dict | None, wall_s: float) -> float | None:
    """The load's CPU seconds in a window of wall_s: measured over the
    outer window, scaled to the sender's shorter one (a spinning process
    runs at an even rate)."""
    if not load or not load["wall_s"]:
        return None
    return load["cpu_s"] * min(1.0, wall_s / load["wall_s"]) if wall_s else load["cpu_s"]


def default_limit() -> float:
    """The disturbed limit in CPUs (0.03: 3 % of one CPU).  In the VM lane
    none: its CPU is emulated, its numbers show behaviour, not performance,
    and the guest's own kernel threads pass 3 % of a CPU there."""
    if DISTURBED_ENV not in os.environ and vmlane.lane() is not None:
        return math.inf
    return float(os.environ.get(DISTURBED_ENV, DISTURBED_SHARE * 100)) / 100


def disturbed(rec: dict, limit: float) -> tuple[str, str] | None:
    """(status, reason) when foreign CPU passed `limit` (in CPUs) in an
    otherwise ok trial."""
    share = rec.get("cpu_foreign_share")
    if rec["status"] != "ok" or share is None or share <= limit:
        return None
    top = ", ".join(f"{comm} {s:.2f} s" for comm, s in rec["cpu_accounting"]["top_foreign"][:3])
    return "disturbed", (f"foreign CPU {rec['cpu_foreign_s']:.2f} s, {share:.0%} of one CPU "
                         f"over the window (limit {limit:.0%})"
                         + (f": {top}" if top else ""))


def controller(rec: dict, ends: dict) -> None:
    """The engine's workers outside their C loops: each end's process CPU
    over its window less what the C code's threads ran (the loop's `cpu_ns`
    and the done exchange's `exchange_cpu_ns`, CLOCK_THREAD_CPUTIME_ID), as seconds per end and as a share of the
    trial's own CPU: Python's part, which must stay small at 10 000
    connections.  Nothing for a driver whose loops do not say (iperf3)."""
    parts = {}
    for end, r in ends.items():
        loop = (r or {}).get("loop") or {}
        if r is None or r.get("cpu_s") is None or loop.get("cpu_ns") is None:
            return
        c_ns = loop["cpu_ns"] + (r.get("exchange_cpu_ns") or 0)
        parts[f"{end}_s"] = max(0.0, r["cpu_s"] - c_ns / 1e9)
    total = sum(parts.values())
    rec["controller_cpu"] = {**parts, "total_s": total}
    if rec.get("cpu_own_s"):
        rec["cpu_controller_share"] = total / rec["cpu_own_s"]
