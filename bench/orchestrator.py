"""Runs a plan: per scenario one topology, a warm-up, then TCP and MPTCP
trials interleaved for N repeats on the same paths; every trial is
journaled the moment it ends, and the run's files are written even when it
is interrupted."""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from bench import metadata, report, schema, stalls, trial
from bench.definitions import Catalog, Scenario
from bench.errors import EXIT_BENCH_FAILURE, EXIT_OK, InputError
from bench.rundir import RunDir
from harness import capabilities, drivers, netns, runs, trialrun
from harness.errors import CapabilityError
from harness.topology import Topology

WARMUP_DURATION_S = 1.0
SETUP_OVERHEAD_S = 0.8   # per trial: worker start-up, handshake, drain (measured here)


@dataclass
class Plan:
    name: str
    scenarios: list[Scenario]
    repeat: int
    warmup: int
    duration_s: float | None
    driver: str = "native"
    description: str = ""
    explicit: bool = False   # scenarios named on the command line, not taken from a suite

    def trial_duration(self, scenario: Scenario) -> float:
        return scenario.own_duration() or self.duration_s or scenario.workload.duration_s

    def estimate_s(self) -> float:
        total = 0.0
        for s in self.scenarios:
            per = len(s.protocols)
            total += per * self.repeat * (self.trial_duration(s) + SETUP_OVERHEAD_S)
            total += per * self.warmup * (WARMUP_DURATION_S + SETUP_OVERHEAD_S)
        return total

    def needs(self) -> set[str]:
        need = {"root", "netns"}
        for s in self.scenarios:
            need |= scenario_needs(s)
        return need

    def as_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "repeat": self.repeat,
                "warmup": self.warmup, "duration_s": self.duration_s, "driver": self.driver,
                "scenarios": [s.name for s in self.scenarios]}


def build_plan(catalog: Catalog, suite: str | None, scenarios: list[str], repeat: int | None,
               warmup: int | None, duration_s: float | None, driver: str) -> Plan:
    if scenarios:
        picked = [catalog.scenario(n) for n in scenarios]
        base = catalog.suite(suite) if suite else None
        name, desc = (suite, base.description) if base else ("custom", "scenarios given on the command line")
    else:
        base = catalog.suite(suite or "default")
        picked = [catalog.scenario(n) for n in base.scenarios]
        name, desc = base.name, base.description
    drivers.get(driver)  # unknown driver: a clear error now, not mid-run
    if base and repeat is not None and repeat < base.min_repeat:
        raise InputError(f"suite {base.name!r} needs at least {base.min_repeat} repeats to support "
                         f"a conclusion; use --repeat {base.min_repeat} or more")
    return Plan(name=name, scenarios=picked, description=desc, explicit=bool(scenarios),
                repeat=repeat or (base.repeat if base else 5),
                warmup=warmup if warmup is not None else (base.warmup if base else 1),
                duration_s=duration_s or (base.duration_s if base else None), driver=driver)


def scenario_needs(s: Scenario) -> set[str]:
    return s.topology().needs() | ({"mptcp"} if "mptcp" in s.protocols else set())


class Interrupted(Exception):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@dataclass
class Run:
    plan: Plan
    rundir: RunDir
    progress: object
    argv: list[str]
    trials: list[dict] = field(default_factory=list)
    scenarios: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)   # scenario -> why it cannot run here
    interrupted_by: int | None = None

    def preflight(self) -> None:
        """Everything that can be refused is refused before anything is made."""
        checks = capabilities.probe()
        what = f"suite {self.plan.name!r}"
        capabilities.require(checks, {"root", "netns"}, what)
        for s in self.plan.scenarios:
            try:
                capabilities.require(checks, scenario_needs(s), f"scenario {s.name!r}")
            except CapabilityError as exc:
                # Named on the command line: refuse.  Part of a suite: skip it,
                # listed as skipped — never run with a different meaning.
                if self.plan.explicit:
                    raise
                self.skipped[s.name] = str(exc)
        if len(self.skipped) == len(self.plan.scenarios):
            capabilities.require(checks, self.plan.needs(), what)
        driver = drivers.get(self.plan.driver)
        driver.check()
        cpus = set(os.sched_getaffinity(0))
        for s in self.plan.scenarios:
            for cpu in s.cpu.cpus():
                if cpu is not None and cpu not in cpus:
                    raise InputError(f"scenario {s.name!r} pins a worker to CPU {cpu}, but this "
                                     f"machine offers CPUs {sorted(cpus)}; change its cpu table")

    def execute(self) -> int:
        self.rundir.create()
        meta = metadata.run_metadata(self.argv, self.plan.as_dict())
        self.progress.start(self.plan, self.rundir.path)
        self._pid = os.getpid()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with runs.owning(self.rundir.run_id, out=str(self.rundir.path)):
                for scenario in self.plan.scenarios:
                    self._scenario(scenario)
        except Interrupted as exc:
            self.interrupted_by = exc.signum
        finally:
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, signal.SIG_IGN)
            self._write(meta)
            for s, handler in previous.items():
                signal.signal(s, handler)
        self.progress.finish(self.trials, self.rundir.path, self.interrupted_by)
        if self.interrupted_by:
            return 128 + self.interrupted_by
        return self.exit_status()

    def _on_signal(self, signum, frame) -> None:
        if os.getpid() != self._pid:
            # A forked child (pyroute2 forks to open netlink sockets in a
            # namespace, then SIGTERMs it) inherits this handler: it must
            # just die, never unwind the orchestrator's stack as its own.
            os._exit(128 + signum)
        # Further signals are ignored while what exists is torn down.
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    def _scenario(self, scenario: Scenario) -> None:
        driver = drivers.get(self.plan.driver)
        prefix = f"{netns.PREFIX}-{self.rundir.run_id}"
        entry = self.scenarios[scenario.name] = {
            "definition": scenario.model_dump(mode="json"),
            "expected_subflows": scenario.expected_subflows(),
            "warmup": [], "state": "started",
        }
        self.progress.scenario(scenario)
        if scenario.name in self.skipped:
            entry["state"] = "skipped"
            entry["reason"] = self.skipped[scenario.name]
            for proto in scenario.protocols:
                params = scenario.trial_params(proto, self.plan.trial_duration(scenario))
                self._record(trial.skipped(scenario, proto, params, self.plan.driver,
                                           run_id=self.rundir.run_id, seq=len(self.trials),
                                           reason=self.skipped[scenario.name]))
            return
        with Topology(scenario.topology(), prefix) as topo:
            entry["readback"] = metadata.scenario_readback(topo)
            for w in range(self.plan.warmup):
                for proto in scenario.protocols:
                    raw = trialrun.run_trial(driver, topo,
                                             scenario.trial_params(proto, WARMUP_DURATION_S))
                    # (warm-ups run without link events: they only warm the path)
                    rec = trial.build(raw, scenario, proto, run_id=self.rundir.run_id,
                                      repeat=-1 - w, seq=-1)
                    entry["warmup"].append({"protocol": proto, "status": rec["status"],
                                            "reason": rec["reason"]})
                    self.progress.warmup(scenario, proto, rec)
            for r in range(self.plan.repeat):
                for proto in scenario.protocols:
                    self._trial(driver, topo, scenario, proto, r)
        entry["state"] = "complete"

    def _trial(self, driver, topo, scenario: Scenario, proto: str, repeat: int) -> None:
        params = scenario.trial_params(proto, self.plan.trial_duration(scenario))
        seq = len(self.trials)
        try:
            raw = trialrun.run_trial(driver, topo, params, scenario.link_events())
        except Interrupted as exc:
            rec = trial.interrupted(scenario, proto, params, driver.name, signame=str(exc),
                                    run_id=self.rundir.run_id, repeat=repeat, seq=seq)
            self._record(rec)
            raise
        self._record(trial.build(raw, scenario, proto, run_id=self.rundir.run_id,
                                 repeat=repeat, seq=seq))

    def _record(self, rec: dict) -> None:
        self.rundir.append_trial(rec)
        self.trials.append(rec)
        self.progress.trial(rec)

    def _write(self, meta: dict) -> None:
        stalls.classify(self.trials)
        metadata.finish(meta)
        state = "interrupted" if self.interrupted_by else "complete"
        doc = schema.results_document(self.rundir.run_id, meta, self.scenarios, self.trials, state)
        self.rundir.write_results(doc)
        self.rundir.write_csv(self.trials)
        self.rundir.write_text("report.md", report.markdown(doc))
        self.rundir.point_latest()

    def exit_status(self) -> int:
        """1 when a trial failed or came out other than its scenario expects
        (by default: ok), or a scenario produced no trial for a protocol."""
        for name, entry in self.scenarios.items():
            if entry["state"] == "skipped":
                continue
            expect = entry["definition"]["expect"]
            for proto in entry["definition"]["protocols"]:
                mine = [t for t in self.trials if t["scenario"] == name and t["protocol"] == proto]
                if not mine or any(t["status"] not in expect[proto] for t in mine):
                    return EXIT_BENCH_FAILURE
        return EXIT_OK

