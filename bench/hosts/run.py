"""A run on real hosts: the orchestrator's own loop (bench.run.orchestrator),
with the hosts lane's preflight, installs and topologies in place of the
namespaces.  `--dry-run` stops after the preflight and prints every change
the run would make."""
from __future__ import annotations

from pathlib import Path

from bench.errors import EXIT_OK, InputError
from bench.hosts import install, inventory, survey
from bench.hosts.lane import RECONNECT_S, Lane, as_measured, unfit
from bench.hosts.ssh import HostError
from bench.run.orchestrator import Run, Stopped
from harness.errors import CapabilityError

DRIVERS = ("native", "iperf3")


class HostsRun(Run):
    lane: Lane
    # A host or its worker lost mid-trial fails that trial; the run goes on
    # once the host answers again, or stops, resumable (docs/hosts.md).
    FAULTS = (HostError,)

    def run(self) -> int:
        with self.lane:
            return super().run()

    def fault_detail(self, exc: HostError) -> dict:
        return {"kind": "host", "host": exc.host}

    def recover(self, exc: HostError) -> None:
        try:
            self.lane.recover(self.progress.note)
        except HostError as lost:
            raise Stopped(f"{lost}; the run stopped") from None

    def preflight(self) -> None:
        check(self.plan, self.lane.inv)
        for s in self.plan.scenarios:
            why = unfit(s, self.lane.inv)
            if why:
                self.skipped[s.name] = why
        self.lane.preflight([s for s in self.plan.scenarios if s.name not in self.skipped],
                            self.plan.drivers)
        for name, why in self.lane.unserved.items():
            if self.plan.explicit:
                raise HostError(why)
            self.skipped[name] = why
        if len(self.skipped) == len(self.plan.scenarios):
            raise InputError(f"no scenario of suite {self.plan.name!r} can run on these hosts: "
                             f"{next(iter(self.skipped.values()))}")
        self.delay_backends = dict(self.lane.delay_backends)
        self.lane.install()
        if self.resumed_meta is None:
            self.progress.note(f"surveying {len(self.lane.inv.paths)} path(s), about "
                               f"{survey.BULK_S + survey.RR_S + 1:g} s each")
            self.plan.scenarios = self.lane.survey_paths(self.plan.scenarios)
            for line in survey.summary(self.lane.survey):
                self.progress.note(line)
            return
        then = self.resumed_meta["lane"]
        self.lane.survey = then.get("survey")
        why = self.lane.resumable(then)
        if why:
            raise InputError(f"cannot resume {self.rundir.path}: {why}; start a new run")
        self.plan.scenarios = self.lane.surveyed(self.plan.scenarios)

    def site(self, scenario):
        return self.lane.topology(scenario)

    def lane_metadata(self) -> dict:
        return self.lane.metadata()


def check(plan, inv: inventory.Inventory) -> None:
    """Refusals that need no host: drivers, and scenarios named explicitly."""
    other = [d for d in plan.drivers if d not in DRIVERS]
    if other:
        raise CapabilityError(f"the {other[0]} driver does not run over --hosts yet; use "
                              f"--driver {DRIVERS[0]}")
    if plan.explicit:
        for s in plan.scenarios:
            why = unfit(s, inv)
            if why:
                raise InputError(f"{why}; pick another scenario or extend the inventory")
    if all(unfit(s, inv) for s in plan.scenarios):
        raise InputError(f"no scenario of suite {plan.name!r} can run on these hosts: "
                         f"{unfit(plan.scenarios[0], inv)}")


def prepare(plan, inventory_path: Path, use_host_config: bool,
            reconnect_s: float = RECONNECT_S) -> tuple[object, Lane]:
    """The plan with its scenarios on paths measured as they are, and the lane."""
    inv = inventory.load(inventory_path)
    if not inv.shaping_host():
        plan.scenarios = [as_measured(s) for s in plan.scenarios]
    return plan, Lane(inv, inventory_path, use_host_config, reconnect_s)


def resume_lane(run_dir: Path, then: dict) -> tuple[Lane, object]:
    """The lane a hosts run recorded (its inventory, options), and how a
    scenario of the catalog reads on it, for `run --resume`."""
    path = Path(then["inventory"])
    if not path.is_file():
        raise InputError(f"cannot resume {run_dir}: its inventory {path} is gone; put it back "
                         "or start a new run")
    inv = inventory.load(path)
    lane = Lane(inv, path, then.get("use_host_config", False),
                then.get("reconnect_s", RECONNECT_S))
    return lane, (lambda s: s) if inv.shaping_host() else as_measured


def dry_run(plan, lane: Lane) -> int:
    """The preflight's facts and every change the run would make, on stdout."""
    check(plan, lane.inv)
    runnable = [s for s in plan.scenarios if not unfit(s, lane.inv)]
    with lane:
        lane.preflight(runnable, plan.drivers)
        for role, f in lane.facts.items():
            print(f"host {lane.inv.host(role).name} ({role}): kernel {f['kernel']}, "
                          f"{f['cpus']} CPU(s), MPTCP {'on' if f['mptcp_enabled'] else 'off'}, "
                          f"clock {f['clock']['skew_s']:+.3f} s from here")
        for s in plan.scenarios:
            why = unfit(s, lane.inv) or lane.unserved.get(s.name)
            if why:
                print(f"skip: {why}")
        runnable = [s for s in runnable if s.name not in lane.unserved]
        for line in lane.changes(runnable, install.source_id()):
            print(f"would change: {line}")
        for line in survey.planned(lane.inv):
            print(f"would survey (changes nothing): {line}")
    return EXIT_OK
