"""One trial, driver-independent: MIB counters of both endpoint namespaces
and the machine's CPU time are taken around whatever the driver does."""
from __future__ import annotations

import os
import time
from contextlib import nullcontext

from harness.measure import cgroupcpu, cpuload, cpustat, mib, owncpu
from harness.net import delayline, pmevents
from harness.traffic import drivers
from harness.traffic.drivers import Driver, TrialParams
from harness.traffic.site import Site

# Events are followed for a few long connections, not for connection churn:
# each one is a netlink message this process parses during the trial.
PM_WATCHED_WORKLOADS = ("bulk", "rr", "rr_under_load")
PM_WATCH_MAX_FLOWS = 64


def run_trial(driver: Driver, site: Site, params: TrialParams, events=(), helpers=()) -> dict:
    """The driver's raw result plus MIB deltas per namespace, the outer CPU
    window (worker start-up included: the sender's own window, when the
    driver has one, is the exact transfer) with the trial cgroup's part of
    it (harness.measure.owncpu; `helpers` are PIDs of the trial's own that run
    beside it) and the foreign load's top processes, the link events
    applied and, on delayed links, the delay backend and what the host
    delay line did; with the scenario's competing load (`load_cpus`), the
    CPU seconds it ran over the window."""
    snapshot, read_cpu, local = site.mib_snapshot, site.cpu_read, site.local
    before = {role: snapshot(role) for role in ("client", "server")}
    line = site.delay_line
    line0 = line.stats() if line else None
    offloads = site.offloads()
    started_at = time.time()
    helpers = [*helpers, line.worker.proc.pid] if line else list(helpers)
    # The userspace PM's daemon works for the trial: its CPU is the trial's own.
    daemon = site.pm_daemon_pid
    helpers += [daemon] if daemon else []
    # The scenario's competing load starts first: born outside the cgroup.
    with _load(site, params) as load, _cgroup(site, helpers) as cg:
        probe = owncpu.Probe() if local else None
        procs0 = local and cpustat.process_times()
        own0, stat0 = probe and probe.read(procs0), read_cpu()
        with _pm_watch(site, params) as watch:
            t0, load0 = time.monotonic(), load.runtime_s()
            with site.link_events(tuple(events)) as runner:
                raw = drivers.refusal(driver, params) or driver.run(site, params, started=runner.start)
        stat1, procs1, wall_s = read_cpu(), local and cpustat.process_times(), time.monotonic() - t0
        own1, load_s = probe and probe.read(procs1), load.runtime_s() - load0
        ours = {os.getpid(), *helpers, *(cg.members() if cg else ()), *load.pids()}
    raw["load"] = ({"cpus": load.cpus, "pids": load.pids(), "cpu_s": load_s, "wall_s": wall_s}
                   if load.cpus else None)
    raw["events"] = runner.applied
    raw["pm"] = _pm_result(site, watch, t0, daemon and procs0, daemon and procs1)
    raw["outer_window"] = {**cpustat.delta(stat0, stat1), "wall_s": wall_s}
    if local:
        raw["outer_window"]["own"] = owncpu.delta(own0, own1)
        foreign = owncpu.account(raw["outer_window"], (params.cpu_sender, params.cpu_receiver))
        unasked = None if foreign["foreign_s"] is None else max(0.0, foreign["foreign_s"] - load_s)
        raw["top_foreign"] = owncpu.foreign_processes(procs0, procs1, ours, unasked)
    raw["mib"] = {role: mib.delta(before[role], snapshot(role)) for role in ("client", "server")}
    raw["delay_backend"] = site.delay_backend
    raw["offloads"] = offloads
    if line:
        raw["delay_line"] = delayline.summary(line0, line.stats(), line.queues)
    raw["started_at"] = started_at
    raw["params"] = params.as_dict()
    raw["driver"] = driver.name
    return raw


def _pm_watch(site: Site, params: TrialParams):
    """The client's MPTCP path-manager events over the trial, where they
    are few enough to follow without disturbing it."""
    if not (site.local and "mptcp" in (params.protocol, params.server_protocol)
            and params.workload in PM_WATCHED_WORKLOADS and params.flows <= PM_WATCH_MAX_FLOWS):
        return nullcontext()
    return pmevents.Monitor(site.ns("client"))


def _pm_result(site: Site, watch, t0: float, procs0, procs1) -> dict | None:
    """Who managed the client's paths, the timeline of its connections and
    subflows (from the trial's start), and the daemon's CPU seconds."""
    out = {"path_manager": site.path_manager}
    if watch is not None:
        out["timeline"] = pmevents.timeline(watch.events(), t0)
        out["events_lost"] = watch.lost()
    daemon = site.pm_daemon_pid
    if daemon and procs0 and procs1 and daemon in procs0 and daemon in procs1:
        out["daemon"] = {"pid": daemon, "cpu_s": (procs1[daemon][1] - procs0[daemon][1]) * cpustat.TICK_S}
    return out


def _load(site: Site, params: TrialParams) -> cpuload.CpuLoad:
    """The scenario's competing CPU load (none on remote hosts, which
    refuse such a scenario before the run)."""
    if not (site.local and params.load_cpus):
        return cpuload.CpuLoad((), None)
    return cpuload.CpuLoad(params.load_cpus, site.ns("server"))


def _cgroup(site: Site, helpers: list[int]):
    """The trial's cgroup (harness.measure.cgroupcpu), named after the site's
    owner so that `bench clean` knows whose it is; none on remote hosts."""
    if not site.local or not site.owner:
        return nullcontext()
    return cgroupcpu.TrialCgroup(f"{site.owner}-cpu", pids=helpers)
