"""Running trials the way the orchestrator does, without a run directory:
what the root tests of trials, scenarios, truth checks, drivers and the
engine share."""
import contextlib
import os
import tempfile
from pathlib import Path

from bench.catalog import Catalog
from bench.record import stalls, trial
from harness.net.topology import Topology
from harness.traffic import drivers, trialrun
from harness.traffic.site import LocalSite


def prefix(tag: str) -> str:
    """A namespace prefix of this test process (clean keeps it until it ends)."""
    return f"mpb-test{os.getpid()}{tag}"


@contextlib.contextmanager
def scenario_up(definition: str, name: str):
    """(scenario, topology) of one scenario written as TOML, its topology up
    until the block ends (for module-scoped fixtures)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "defs.toml"
        path.write_text(definition)
        scenario = Catalog([path]).scenario(name)
    with Topology(scenario.topology(), prefix(name)) as topo:
        yield scenario, topo


def one(topo, scenario, proto: str, duration: float, driver: str = "native", events=(),
        **override) -> dict:
    """One trial on a topology that is already up, as bench.record.trial records it;
    `override` replaces trial parameters (send_mode=..., verify=True, ...)."""
    params = scenario.trial_params(proto, duration)
    if override:
        params = drivers.TrialParams(**{**params.as_dict(), **override})
    raw = trialrun.run_trial(drivers.get(driver), LocalSite(topo), params, events)
    return trial.build(raw, scenario, proto, run_id="t", repeat=0, seq=0)


def on_own_topology(scenario, protos, duration: float, tag: str) -> list[dict]:
    """A trial per protocol on the scenario's own topology, with its link
    events, classified for stalls against each other like a run's trials."""
    with Topology(scenario.topology(), prefix(tag)) as topo:
        out = [one(topo, scenario, p, duration, events=scenario.link_events()) for p in protos]
    stalls.classify(out)
    return out
