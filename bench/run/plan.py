"""What a run will do: scenarios, repeats, drivers, and the order of its
trials.  Built from a suite or the command line, recorded in results.json
(as_dict) and rebuilt from there for a resume (from_dict)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.catalog import Catalog, DriverModes, Scenario
from bench.errors import InputError
from harness.traffic import drivers
from harness.traffic.drivers import TrialParams

WARMUP_DURATION_S = 1.0
SETUP_OVERHEAD_S = 0.8   # per trial: worker start-up, handshake, drain (measured here)


def trial_key(t: dict) -> tuple:
    """What identifies a trial within a run's plan."""
    return (t["scenario"], t["driver"], t["protocol"], t["repeat"])


@dataclass
class Plan:
    name: str
    scenarios: list[Scenario]
    repeat: int
    warmup: int
    duration_s: float | None
    drivers: tuple[str, ...] = ("native",)
    description: str = ""
    explicit: bool = False   # scenarios named on the command line, not taken from a suite
    scenario_files: tuple[str, ...] = ()
    durations: dict[str, float] = field(default_factory=dict)   # the suite's, per scenario
    driver_modes: dict[str, dict] = field(default_factory=dict)  # the suite's, per driver
    profile: bool = False    # sample the machine with perf during every trial
    retries: int = 2         # re-runs of a trial that foreign load disturbed
    quiet_machine: bool = False   # refuse to start on a busy machine (else warn)
    disturbed_above: float = 0.03  # foreign CPU (in CPUs) that makes a trial disturbed
    # Modes a calibration chose, per (scenario, driver, protocol): over driver_modes.
    chosen: dict[tuple[str, str, str], dict] = field(default_factory=dict)

    def trial_duration(self, scenario: Scenario) -> float:
        """A scenario's own timeline first (its events need it), then the
        suite's duration for it, then the run's, then the workload's."""
        return (scenario.own_duration() or self.durations.get(scenario.name)
                or self.duration_s or scenario.workload.duration_s)

    def fixed_modes(self, driver: str) -> dict:
        return DriverModes.model_validate(self.driver_modes.get(driver, {})).fixed()

    def candidates(self, scenario: Scenario, driver: str) -> tuple[DriverModes, list[dict]]:
        """The driver's modes and the candidate modes to calibrate among, if
        any apply to this scenario (bulk workloads only)."""
        modes = DriverModes.model_validate(self.driver_modes.get(driver, {}))
        if scenario.workload.kind != "bulk":
            return modes, []
        return modes, [c.model_dump(exclude_none=True) for c in modes.candidates]

    def params(self, scenario: Scenario, driver: str, protocol: str,
               duration_s: float | None = None, modes: dict | None = None) -> TrialParams:
        """One trial's parameters: the scenario's, for this plan's duration,
        with the suite's engine modes for this driver, the modes a
        calibration chose for it, or `modes` when given."""
        duration_s = duration_s or self.trial_duration(scenario)
        modes = {**self.fixed_modes(driver),
                 **(modes if modes is not None
                    else self.chosen.get((scenario.name, driver, protocol), {}))}
        if modes and scenario.workload.kind == "bulk":
            workload = scenario.workload.model_copy(update=modes)
            scenario = scenario.model_copy(update={"workload": workload})
        return scenario.trial_params(protocol, duration_s)

    def slots(self, scenario: Scenario) -> list[tuple[int, str, str]]:
        """(repeat, driver, protocol) in run order: within each repeat every
        driver's TCP and MPTCP trials, so drivers see the same conditions."""
        return [(r, d, p) for r in range(self.repeat) for d in self.drivers
                for p in scenario.protocols]

    def remaining(self, scenario: Scenario, done: set) -> list[tuple[int, str, str]]:
        """The slots whose trial_key() is not in `done` (finished before a resume)."""
        return [(r, d, p) for r, d, p in self.slots(scenario)
                if (scenario.name, d, p, r) not in done]

    def trial_count(self) -> int:
        return sum(len(self.slots(s)) for s in self.scenarios)

    def estimate_s(self) -> float:
        total = 0.0
        for s in self.scenarios:
            per = len(s.protocols) * len(self.drivers)
            total += per * self.repeat * (self.trial_duration(s) + SETUP_OVERHEAD_S)
            total += per * self.warmup * (WARMUP_DURATION_S + SETUP_OVERHEAD_S)
            for driver in self.drivers:
                modes, candidates = self.candidates(s, driver)
                total += (len(s.protocols) * len(candidates) * modes.calibration_trials
                          * (modes.calibration_s + SETUP_OVERHEAD_S))
        return total

    def needs(self) -> set[str]:
        need = {"root", "netns"}
        for s in self.scenarios:
            need |= scenario_needs(s)
        return need

    def as_dict(self) -> dict:
        """The plan as recorded in results.json: enough to rebuild it for a
        resume, and to see that its scenarios have not changed since."""
        return {"name": self.name, "description": self.description, "repeat": self.repeat,
                "warmup": self.warmup, "duration_s": self.duration_s,
                "driver": ", ".join(self.drivers), "drivers": list(self.drivers),
                "scenarios": [s.name for s in self.scenarios], "explicit": self.explicit,
                "scenario_files": list(self.scenario_files), "durations": dict(self.durations),
                "driver_modes": dict(self.driver_modes), "profile": self.profile,
                "retries": self.retries, "quiet_machine": self.quiet_machine,
                "disturbed_above": self.disturbed_above,
                "definitions": {s.name: s.model_dump(mode="json") for s in self.scenarios}}

    @classmethod
    def from_dict(cls, d: dict, scenarios: list[Scenario]) -> "Plan":
        return cls(name=d["name"], scenarios=scenarios, repeat=d["repeat"], warmup=d["warmup"],
                   duration_s=d["duration_s"], drivers=tuple(d["drivers"]),
                   description=d["description"], explicit=d["explicit"],
                   scenario_files=tuple(d["scenario_files"]), durations=d.get("durations", {}),
                   driver_modes=d.get("driver_modes", {}), profile=d.get("profile", False),
                   retries=d.get("retries", 2), quiet_machine=d.get("quiet_machine", False),
                   disturbed_above=d.get("disturbed_above", 0.03))


def build_plan(catalog: Catalog, suite: str | None, scenarios: list[str], repeat: int | None,
               warmup: int | None, duration_s: float | None,
               driver_names: list[str] | None = None, scenario_files=(),
               profile: bool = False, delay_backend: str | None = None,
               retries: int = 2, quiet_machine: bool = False,
               disturbed_above: float = 0.03) -> Plan:
    if scenarios:
        picked = [catalog.scenario(n) for n in scenarios]
        base = catalog.suite(suite) if suite else None
        name, desc = (suite, base.description) if base else ("custom", "scenarios given on the command line")
    else:
        base = catalog.suite(suite or "default")
        picked = [catalog.scenario(n) for n in base.scenarios]
        name, desc = base.name, base.description
    chosen = tuple(dict.fromkeys(driver_names or (base.drivers if base else ("native",))))
    for driver in chosen:
        drivers.get(driver)  # unknown driver: a clear error now, not mid-run
    if delay_backend:   # recorded in each definition, so a resume keeps it
        picked = [s.model_copy(update={"delay_backend": delay_backend}) for s in picked]
    for s in picked:
        _check_mptcp_enabled(s)
    if base and repeat is not None and repeat < base.min_repeat:
        raise InputError(f"suite {base.name!r} needs at least {base.min_repeat} repeats to support "
                         f"a conclusion; use --repeat {base.min_repeat} or more")
    return Plan(name=name, scenarios=picked, description=desc, explicit=bool(scenarios),
                repeat=repeat or (base.repeat if base else 5),
                warmup=warmup if warmup is not None else (base.warmup if base else 1),
                duration_s=duration_s or (base.duration_s if base else None), drivers=chosen,
                # a --duration on the command line applies to every scenario
                durations={} if duration_s or not base else dict(base.durations),
                driver_modes={d: m.model_dump(exclude_none=True, exclude_defaults=True)
                              for d, m in base.driver_modes.items()} if base else {},
                scenario_files=tuple(str(Path(f).resolve()) for f in scenario_files),
                profile=profile, retries=retries, quiet_machine=quiet_machine,
                disturbed_above=disturbed_above)


def scenario_needs(s: Scenario) -> set[str]:
    strips = {"tcpoptstrip"} if any(e.action == "strip_mptcp" for e in s.events) else set()
    return s.topology().needs() | strips | ({"mptcp"} if "mptcp" in s.protocols else set())


def _check_mptcp_enabled(s: Scenario) -> None:
    """A scenario that turns MPTCP off in its namespaces cannot run MPTCP
    trials: refuse it now rather than record every one as unsupported."""
    value = str(s.sysctls.get("net.mptcp.enabled", "1")).strip()
    client = str(s.client_sysctls.get("net.mptcp.enabled", value)).strip()
    if ("mptcp" in s.protocols and client == "0" and value != "0" and not s.tcp_retry
            and "unsupported" not in s.expect.mptcp):
        raise InputError(f"scenario {s.name!r} turns MPTCP off in the client's namespace: its "
                         "MPTCP trials can only be refused; set tcp_retry = true (the client "
                         "retries with TCP) or expect.mptcp = [\"unsupported\"]")
    if "mptcp" in s.protocols and value == "0":
        raise InputError(f"scenario {s.name!r} sets net.mptcp.enabled=0 in its namespaces but "
                         "runs MPTCP trials; remove that sysctl, or set protocols = [\"tcp\"]")
