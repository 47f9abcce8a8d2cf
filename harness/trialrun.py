"""One trial, driver-independent: MIB counters of both endpoint namespaces
and the machine's CPU time are taken around whatever the driver does."""
from __future__ import annotations

import time

from harness import cpustat, mib
from harness.drivers import Driver, TrialParams


def run_trial(driver: Driver, topo, params: TrialParams) -> dict:
    """The driver's raw result plus MIB deltas per namespace and the outer
    CPU window (worker start-up included: the sender's own window, when the
    driver has one, is the exact transfer)."""
    before = {role: mib.snapshot(topo.ns(role)) for role in ("client", "server")}
    started_at = time.time()
    stat0 = cpustat.read()
    raw = driver.run(topo, params)
    stat1 = cpustat.read()
    raw["mib"] = {role: mib.delta(before[role], mib.snapshot(topo.ns(role)))
                  for role in ("client", "server")}
    raw["outer_window"] = cpustat.delta(stat0, stat1)
    raw["started_at"] = started_at
    raw["params"] = params.as_dict()
    raw["driver"] = driver.name
    return raw
