"""One trial, driver-independent: MIB counters of both endpoint namespaces
and the machine's CPU time are taken around whatever the driver does."""
from __future__ import annotations

import os
import time

from harness import cpustat, delayline, drivers, mib
from harness.drivers import Driver, TrialParams
from harness.events import EventRunner


def run_trial(driver: Driver, topo, params: TrialParams, events=()) -> dict:
    """The driver's raw result plus MIB deltas per namespace, the outer CPU
    window (worker start-up included: the sender's own window, when the
    driver has one, is the exact transfer), the link events applied and,
    on delayed links, the delay backend and what the host delay line did."""
    snapshot = getattr(topo, "mib_snapshot", None) or (lambda role: mib.snapshot(topo.ns(role)))
    read_cpu = getattr(topo, "cpu_read", cpustat.read)    # a hosts topology: the sender host's
    local = not hasattr(topo, "cpu_read")
    before = {role: snapshot(role) for role in ("client", "server")}
    line = getattr(topo, "delay_line", None)
    line0 = line.stats() if line else None
    started_at = time.time()
    procs0, stat0 = cpustat.process_times() if local else None, read_cpu()
    with EventRunner(topo, tuple(events)) as runner:
        raw = drivers.refusal(driver, params) or driver.run(topo, params)
    stat1, procs1 = read_cpu(), cpustat.process_times() if local else None
    raw["events"] = runner.applied
    raw["noise"] = cpustat.others(procs0, procs1, exclude={os.getpid()}) if local else None
    raw["mib"] = {role: mib.delta(before[role], snapshot(role)) for role in ("client", "server")}
    raw["outer_window"] = cpustat.delta(stat0, stat1)
    raw["delay_backend"] = getattr(topo, "delay_backend", None)
    if line:
        raw["delay_line"] = delayline.summary(line0, line.stats(), line.queues)
    raw["started_at"] = started_at
    raw["params"] = params.as_dict()
    raw["driver"] = driver.name
    return raw
