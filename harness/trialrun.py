"""One trial, driver-independent: MIB counters of both endpoint namespaces
and the machine's CPU time are taken around whatever the driver does."""
from __future__ import annotations

import os
import time

from harness import cpustat, drivers, mib
from harness.drivers import Driver, TrialParams
from harness.events import EventRunner


def run_trial(driver: Driver, topo, params: TrialParams, events=()) -> dict:
    """The driver's raw result plus MIB deltas per namespace, the outer CPU
    window (worker start-up included: the sender's own window, when the
    driver has one, is the exact transfer) and the link events applied."""
    snapshot = getattr(topo, "mib_snapshot", None) or (lambda role: mib.snapshot(topo.ns(role)))
    read_cpu = getattr(topo, "cpu_read", cpustat.read)    # a hosts topology: the sender host's
    local = not hasattr(topo, "cpu_read")
    before = {role: snapshot(role) for role in ("client", "server")}
    started_at = time.time()
    procs0, stat0 = cpustat.process_times() if local else None, read_cpu()
    with EventRunner(topo, tuple(events)) as runner:
        raw = drivers.refusal(driver, params) or driver.run(topo, params)
    stat1, procs1 = read_cpu(), cpustat.process_times() if local else None
    raw["events"] = runner.applied
    raw["noise"] = cpustat.others(procs0, procs1, exclude={os.getpid()}) if local else None
    raw["mib"] = {role: mib.delta(before[role], snapshot(role)) for role in ("client", "server")}
    raw["outer_window"] = cpustat.delta(stat0, stat1)
    raw["started_at"] = started_at
    raw["params"] = params.as_dict()
    raw["driver"] = driver.name
    return raw
