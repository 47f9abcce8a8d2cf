"""Runs a plan: per scenario one topology, a warm-up, then TCP and MPTCP
trials — of every driver in the plan — interleaved for N repeats on the
same paths.  Every trial is journaled the moment it ends; results.json is
written when the run starts, after each scenario and at the end, even when
the run is interrupted, so a run killed at any point can be resumed
(bench.run.resume)."""
from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar

from bench import report, results_format
from bench.catalog import Scenario, modes_label
from bench.errors import EXIT_BENCH_FAILURE, EXIT_OK, InputError
from bench.lanes import vmlane
from bench.record import cpu_fields, stalls, trial
from bench.run import calibrate, metadata, quiet
from bench.run.plan import WARMUP_DURATION_S, Plan, scenario_needs
from bench.run.rundir import RunDir
from harness import cleanup, ownership
from harness.errors import CapabilityError
from harness.host import netns, sysctl
from harness.measure import profiler
from harness.net import capabilities, delayline
from harness.traffic import drivers, trialrun
from harness.traffic import site as sites

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class Stopped(Exception):
    """Where the trials run went away for good (a host that stays lost):
    the run ends in order, resumable, with exit status 1."""


@dataclass
class Run:
    plan: Plan
    rundir: RunDir
    progress: object
    argv: list[str]
    trials: list[dict] = field(default_factory=list)
    scenarios: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)   # scenario -> why it cannot run here
    checks: dict = field(default_factory=dict)    # preflight's capability probe
    delay_backends: dict = field(default_factory=dict)   # scenario -> the backend preflight chose
    interrupted_by: int | None = None
    stopped: str | None = None                     # why the run stopped early (Stopped)
    done: set = field(default_factory=set)         # plan.trial_key()s finished before a resume
    resumed_meta: dict | None = None               # the metadata of the run being resumed
    next_seq: int = 0
    machine_load: dict | None = None               # preflight's look at the machine (bench.run.quiet)

    def run(self) -> int:
        """Preflight, then execute; Ctrl-C or SIGTERM at any point ends it
        in order, with exit status 128 + the signal's number."""
        with self._signals():
            try:
                self.preflight()
                with ownership.exclusive_run(self.rundir.run_id, out=str(self.rundir.path)):
                    return self.execute()
            except Interrupted as exc:   # execute() handles its own: this came before
                self.progress.console.print("interrupted before the run started; nothing was made")
                return 128 + exc.signum

    @contextmanager
    def _signals(self):
        self._pid = os.getpid()
        previous = {s: signal.signal(s, self._on_signal) for s in SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def preflight(self) -> None:
        """Everything that can be refused is refused before anything is made."""
        checks = self.checks = capabilities.probe()
        what = f"suite {self.plan.name!r}"
        capabilities.require(checks, {"root", "netns"}, what)
        for s in self.plan.scenarios:
            try:
                capabilities.require(checks, scenario_needs(s), f"scenario {s.name!r}")
                sysctl.check({**s.endpoint_sysctls(), **s.client_sysctls}, f"scenario {s.name!r}")
                spec = s.topology()
                if spec.delayed:
                    self.delay_backends[s.name] = capabilities.delay_backend(s.delay_backend, checks)
                    delayline.check_spec(spec.links, self.delay_backends[s.name])
            except CapabilityError as exc:
                # Named on the command line: refuse.  Part of a suite: skip it,
                # listed as skipped — never run with a different meaning.
                if self.plan.explicit:
                    raise
                self.skipped[s.name] = str(exc)
        if len(self.skipped) == len(self.plan.scenarios):   # nothing would run: refuse
            capabilities.require(checks, self.plan.needs(), what)
            raise CapabilityError(next(iter(self.skipped.values())))   # e.g. a sysctl
        for name in self.plan.drivers:
            drivers.get(name).check()
        if self.plan.profile:
            profiler.check()
        cpus = set(os.sched_getaffinity(0))
        for s in self.plan.scenarios:
            for cpu in s.cpu.cpus():
                if cpu is not None and cpu not in cpus:
                    raise InputError(f"scenario {s.name!r} pins a worker to CPU {cpu}, but this "
                                     f"machine offers CPUs {sorted(cpus)}; change its cpu table")
        self.machine_load = quiet.look(self.plan.quiet_machine, self.plan.disturbed_above,
                                       self.progress.console)

    def execute(self) -> int:
        # A signal while the directory is being made waits until the
        # handler below can finish the run in order.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            meta = self._open()
            self.progress.start(self.plan, self.rundir.path, done=len(self.done))
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            raise
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            with ownership.owning(self.rundir.run_id, out=str(self.rundir.path)):
                self._checkpoint(meta)
                for scenario in self.plan.scenarios:
                    self._scenario(scenario)
                    self._checkpoint(meta)
        except Interrupted as exc:
            self.interrupted_by = exc.signum
        except (Stopped, *self.FAULTS) as exc:    # a fault between trials stops the run too
            self.stopped = str(exc)
            meta["stopped"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "reason": self.stopped}
        finally:
            for s in SIGNALS:
                signal.signal(s, signal.SIG_IGN)
            self._write(meta)
        self.progress.finish(self.trials, self.rundir.path, self.interrupted_by, self.stopped)
        if self.interrupted_by:
            return 128 + self.interrupted_by
        return EXIT_BENCH_FAILURE if self.stopped else self.exit_status()

    def _open(self) -> dict:
        if self.resumed_meta is None:
            self.rundir.create()
            meta = metadata.run_metadata(self.argv, self.plan.as_dict())
            meta["machine_load"] = self.machine_load
            meta["features"] = capabilities.features(self.checks)
            meta["lane"] = self.lane_metadata() or meta["lane"]
            return meta
        self.rundir.reopen()
        # What the killed attempt left (namespaces, processes) is ours and dead.
        cleanup.clean(owner=self.rundir.run_id)
        return self.resumed_meta

    def _on_signal(self, signum, frame) -> None:
        if os.getpid() != self._pid:
            # A forked child (pyroute2 forks to open netlink sockets in a
            # namespace, then SIGTERMs it) inherits this handler: it must
            # just die, never unwind the orchestrator's stack as its own.
            os._exit(128 + signum)
        # Further signals are ignored while what exists is torn down.
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    def _entry(self, scenario: Scenario) -> dict:
        """The scenario's part of results.json (kept from an earlier attempt)."""
        return self.scenarios.setdefault(scenario.name, {
            "definition": scenario.model_dump(mode="json"),
            "expected_subflows": scenario.expected_subflows(),
            "warmup": [], "state": "started",
        })

    def _scenario(self, scenario: Scenario) -> None:
        entry = self._entry(scenario)
        todo = self.plan.remaining(scenario, self.done)
        if scenario.name in self.skipped:
            self._skip(scenario, entry)
            return
        if not todo:     # finished before a resume
            entry["state"] = entry["state"] if entry["state"] == "skipped" else "complete"
            return
        self.progress.scenario(scenario)
        by_name = {name: drivers.get(name) for name in self.plan.drivers}
        with self.site(scenario) as topo:
            entry["readback"] = topo.read_back(metadata.SYSCTLS)
            if scenario.name in self.delay_backends:
                entry["delay_backend"] = self.delay_backends[scenario.name]
            for w in range(self.plan.warmup):
                for driver in by_name.values():
                    for proto in scenario.protocols:
                        self._warmup(driver, topo, scenario, proto, w, entry)
            for driver in by_name.values():
                self._calibrate(driver, topo, scenario, entry)
            for repeat, name, proto in todo:
                self._trial(by_name[name], topo, scenario, proto, repeat)
        entry["state"] = "complete"

    # Hooks a run elsewhere implements (bench.hosts.run: on real hosts).
    def site(self, scenario: Scenario):
        """Where the scenario's trials run, entered for them: a harness Site."""
        spec = scenario.topology(self.delay_backends.get(scenario.name))   # resolved in preflight
        return sites.local(spec, f"{netns.PREFIX}-{self.rundir.run_id}")

    def lane_metadata(self) -> dict | None:
        """This run's lane metadata, when it is not the one this machine records."""
        return None

    def _skip(self, scenario: Scenario, entry: dict) -> None:
        entry["state"] = "skipped"
        entry["reason"] = self.skipped[scenario.name]
        if any(t["scenario"] == scenario.name for t in self.trials):
            return       # recorded before a resume
        for name in self.plan.drivers:
            for proto in scenario.protocols:
                params = self.plan.params(scenario, name, proto)
                self._record(trial.skipped(scenario, proto, params, name,
                                           run_id=self.rundir.run_id, seq=self.next_seq,
                                           reason=self.skipped[scenario.name]))

    def _warmup(self, driver, topo, scenario: Scenario, proto: str, w: int, entry: dict) -> None:
        # (warm-ups run without link events: they only warm the path)
        raw = self._raw(driver, topo, self.plan.params(scenario, driver.name, proto,
                                                       WARMUP_DURATION_S))
        rec = trial.build(raw, scenario, proto, run_id=self.rundir.run_id, repeat=-1 - w, seq=-1)
        entry["warmup"].append({"protocol": proto, "driver": driver.name,
                                "status": rec["status"], "reason": rec["reason"]})
        self.progress.warmup(scenario, proto, rec)
        self._recover(raw)

    # A fault of the place the trials run (FAULTS: a host lost on the hosts
    # lane) fails the trial under way, never the run: the trial is recorded
    # failed with the fault, then recover() gets the place back or stops the
    # run (Stopped).  A local run has no such faults.
    FAULTS: ClassVar[tuple] = ()

    def _raw(self, driver, topo, params, events=(), helpers=()) -> dict:
        """trialrun's raw result, or a failed one naming the fault."""
        started = time.time()
        try:
            return trialrun.run_trial(driver, topo, params, events, helpers=helpers)
        except self.FAULTS as exc:
            return {"params": params.as_dict(), "driver": driver.name, "started_at": started,
                    "mib": {}, "events": [], "fault": exc,
                    "error": {"message": str(exc), "fault": self.fault_detail(exc)}}

    def fault_detail(self, exc: Exception) -> dict:
        return {}

    def recover(self, exc: Exception) -> None:
        """Get the place back after a fault, or raise Stopped."""
        raise Stopped(str(exc))

    def _recover(self, raw: dict) -> None:
        if raw.get("fault") is not None:
            self.recover(raw["fault"])

    def _calibrate(self, driver, topo, scenario: Scenario, entry: dict) -> None:
        """Pick the driver's modes per protocol among the suite's candidates
        (bench.run.calibrate); a resumed run keeps the choice it made."""
        modes, candidates = self.plan.candidates(scenario, driver.name)
        done = entry.setdefault("calibration", {}).setdefault(driver.name, {})
        for proto in scenario.protocols if candidates else ():
            if proto not in done:
                done[proto] = self._calibrate_one(driver, topo, scenario, proto, modes, candidates)
            self.plan.chosen[(scenario.name, driver.name, proto)] = done[proto]["chosen"]

    def _calibrate_one(self, driver, topo, scenario, proto, modes, candidates) -> dict:
        results = [{"modes": c, "goodput_bps": [], "cpu_system_s_per_gb": [], "statuses": []}
                   for c in candidates]
        for t in range(modes.calibration_trials):
            for r in results:        # interleaved: every candidate sees the same drift
                params = self.plan.params(scenario, driver.name, proto, modes.calibration_s,
                                          modes=r["modes"])
                raw = self._raw(driver, topo, params)
                rec = trial.build(raw, scenario, proto, run_id=self.rundir.run_id, repeat=-1, seq=-1)
                for key in ("goodput_bps", "cpu_system_s_per_gb"):
                    r[key].append(rec[key])
                r["statuses"].append(rec["status"])
                self._recover(raw)
        best, why = calibrate.choose(results)
        self.progress.calibrated(scenario, driver.name, proto, modes_label(results[best]["modes"]),
                                 why)
        return {"candidates": results, "chosen": results[best]["modes"], "why": why}

    def _trial(self, driver, topo, scenario: Scenario, proto: str, repeat: int) -> None:
        """One trial, re-run up to plan.retries times while foreign load
        disturbs it (bench.record.cpu_fields); every try is journaled."""
        for attempt in range(1, self.plan.retries + 2):
            rec = self._try(driver, topo, scenario, proto, repeat, attempt)
            if rec["status"] != "disturbed":
                return
            self.progress.disturbed(rec, attempt <= self.plan.retries)

    def _try(self, driver, topo, scenario: Scenario, proto: str, repeat: int, attempt: int) -> dict:
        params = self.plan.params(scenario, driver.name, proto)
        seq = self.next_seq
        try:
            with self._profiled(seq) as profile:
                raw = self._raw(driver, topo, params, scenario.link_events(),
                                helpers=profile.pop("_pids", ()))
        except Interrupted as exc:
            rec = trial.interrupted(scenario, proto, params, driver.name, signame=str(exc),
                                    run_id=self.rundir.run_id, repeat=repeat, seq=seq)
            rec["attempt"] = attempt
            self._record(rec)
            raise
        rec = trial.build(raw, scenario, proto, run_id=self.rundir.run_id, repeat=repeat, seq=seq)
        rec["attempt"] = attempt
        verdict = cpu_fields.disturbed(rec, self.plan.disturbed_above)
        if verdict:
            rec["status"], rec["reason"] = verdict
        if profile:
            rec["profile"] = profile
        self._record(rec)
        self._recover(raw)
        return rec

    @contextmanager
    def _profiled(self, seq: int):
        """perf samples of the machine over the trial, when the plan asks:
        folded stacks go to profiles/<seq>.folded, their summary (filled in
        on leaving) to the trial record."""
        out: dict = {}
        if not self.plan.profile:
            yield out
            return
        folder = self.rundir.path / results_format.PROFILES
        folder.mkdir(exist_ok=True)
        data = folder / f".perf-{seq}.data"
        try:
            with profiler.SystemProfile(data) as perf:
                out["_pids"] = [perf.proc.pid]     # perf's CPU is the run's own
                yield out
            stacks = profiler.fold(data)
        finally:
            data.unlink(missing_ok=True)
        results_format.write_atomic(folder / f"{seq}.folded",
                                    "".join(f"{s} {n}\n" for s, n in sorted(stacks.items())))
        out.update(profiler.summary(stacks), folded=f"{results_format.PROFILES}/{seq}.folded")

    def _record(self, rec: dict) -> None:
        self.rundir.append_trial(rec)
        self.trials.append(rec)
        self.next_seq += 1
        self.progress.trial(rec)

    def _checkpoint(self, meta: dict) -> None:
        """results.json as things stand: the plan from the start, and the
        scenarios so far, so that a run killed at any point can be resumed."""
        doc = results_format.results_document(self.rundir.run_id, meta, self.scenarios, self.trials,
                                      "running")
        self.rundir.write_results(doc)

    def _write(self, meta: dict) -> None:
        before = [t["status"] for t in self.trials]
        stalls.classify(self.trials)
        self.progress.reclassified([t for t, was in zip(self.trials, before) if t["status"] != was])
        metadata.finish(meta)
        state = "interrupted" if self.interrupted_by or self.stopped else "complete"
        doc = results_format.results_document(self.rundir.run_id, meta, self.scenarios, self.trials, state)
        self.rundir.write_results(doc)
        self.rundir.write_csv(self.trials)
        if not vmlane.report_on_host():
            report.write_doc(self.rundir.path, doc)   # report.md, report.html, plots/
        self.rundir.point_latest()

    def exit_status(self) -> int:
        """1 when a trial failed or came out other than its scenario expects
        (by default: ok), an attack's verdict was not the expected one, or a
        scenario produced no trial for a protocol."""
        for name, entry in self.scenarios.items():
            if entry["state"] == "skipped":
                continue
            expect = entry["definition"]["expect"]
            for proto in entry["definition"]["protocols"]:
                # A disturbed trial says nothing of the scenario (the report's
                # first section counts them).
                mine = [t for t in self.trials if t["scenario"] == name and t["protocol"] == proto
                        and t["status"] != "disturbed"]
                if not mine or any(t["status"] not in expect[proto] for t in mine):
                    return EXIT_BENCH_FAILURE
                if any(t.get("attack") and t["attack"]["verdict"] != t["attack"]["expected"]
                       for t in mine):
                    return EXIT_BENCH_FAILURE
        return EXIT_OK

