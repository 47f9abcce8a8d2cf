"""Preflight's look at the machine: is it already busy before the run?

Like `pyperf system show`, it warns; with --quiet-machine it refuses.  The
limit is the one that marks a trial disturbed (bench.record.cpu_fields), so
a machine that fails it would disturb every trial.
"""
from __future__ import annotations

import os

from rich.text import Text

from bench.errors import InputError
from harness.measure import owncpu

SAMPLE_S = 2.0
SAMPLE_ENV = "MPTCP_BENCH_PREFLIGHT_S"    # tests only: a shorter look


def look(refuse: bool, limit: float, console) -> dict:
    """The 2-s sample, recorded in the run's metadata; a warning (or, when
    `refuse`, an InputError) when it passes the limit."""
    load = owncpu.sample_machine(float(os.environ.get(SAMPLE_ENV, SAMPLE_S)))
    load["busy"] = load["share"] > limit
    if not load["busy"]:
        return load
    top = ", ".join(f"{comm} {s:.2f} s" for comm, s in load["top"][:3]) or "no process named"
    what = (f"the machine is already busy: {load['share']:.0%} of one CPU over "
            f"{load['wall_s']:.1f} s (limit {limit:.0%}; {top})")
    if refuse:
        raise InputError(f"{what}; --quiet-machine refuses to run on it")
    console.print(Text.assemble(("warning:", "yellow"), f" {what}; trials it disturbs will be re-run"))
    return load
