"""The metadata registry: what every recorded key means and whether two
runs that differ in it can be compared.

A run's metadata and scenario entries are flattened to dotted keys
("kernel.release", "scenarios.aggregate-2x.definition.links").  The first
registry entry whose pattern matches a key says:

  incomparable  a difference changes what was measured (a scenario's
                definition, the suite's repeat count or trial duration, the
                protocol set, the driver): compare refuses, exit 2, unless
                forced;
  warn          worth a warning but comparing across it is the point
                (kernel release, sysctls, tool versions, CPU model...);
  info          expected to differ, listed for the record (git revision,
                load averages);
  ignore        differs on every run (timestamps, pid, namespace names).

Keys no entry matches are tolerated and listed as "unregistered": add them
here when metadata.py learns to record something new.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable

from bench.catalog import Scenario

POLICIES = ("incomparable", "warn", "info", "ignore")


def plain(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return " ".join(plain(v) for v in value) if all(
            not isinstance(v, (dict, list)) for v in value) else repr(value)
    return "–" if value is None else str(value)


@dataclass(frozen=True)
class Key:
    pattern: str
    label: str
    policy: str
    kind: str = "str"       # str | int | float | bool | list | any (a JSON value)
    unit: str = ""
    fmt: Callable = plain
    default: object = None  # what a run recorded before the key existed meant

    def show(self, value) -> str:
        text = self.fmt(value)
        return f"{text} {self.unit}" if self.unit and value is not None else text


REGISTRY: tuple[Key, ...] = (
    # What was measured: a difference means different experiments.
    Key("suite.repeat", "paired repeats per scenario", "incomparable", "int"),
    Key("suite.duration_s", "trial duration", "incomparable", "float", "s"),
    Key("suite.driver", "traffic driver", "incomparable"),
    Key("suite.drivers", "traffic drivers", "incomparable", "list"),
    Key("suite.driver_modes*", "engine modes the suite gives a driver", "incomparable", "any"),
    # A VM lane's CPU is emulated: its numbers show behaviour, not performance.
    Key("lane.kind", "where it ran (host or VM lane)", "incomparable", default="host"),
    # The hosts lane (docs/hosts.md): paths measured as they are or shaped on a router.
    Key("lane.link_model", "link model of the hosts' paths", "incomparable"),
    # Which machines and NICs a hosts run measured (derived from lane.hosts by
    # view(): by role and path, so that renamed hosts are a difference too).
    Key("hosts_lane.*.host", "host of the hosts lane, by role", "incomparable"),
    Key("hosts_lane.*.kernel", "kernel of a host, by role", "incomparable"),
    Key("hosts_lane.path*.nic", "NIC (driver) of a path's end", "incomparable"),
    Key("lane.survey.clocks.*", "a host's clock offset (survey)", "ignore", "float"),
    Key("lane.survey.paths.*.bulk.*", "path survey: bulk probe", "info", "any"),
    Key("lane.survey.paths.*.rr.*", "path survey: request/response probe", "info", "any"),
    Key("lane.survey.paths.*.*_address", "path survey: addresses", "info"),
    Key("lane.survey.*", "path survey: the paths' ends and the probe", "warn", "any"),
    Key("lane.hosts.*.clock.*", "a host's clock offset", "ignore", "float"),
    Key("lane.hosts.*.addresses.*_life_time", "address lifetime", "ignore", "int"),
    Key("lane.hosts.*.install", "a host's install directory", "info"),
    Key("lane.inventory", "inventory file", "info"),
    Key("lane.hosts.*", "a host of the hosts lane", "warn", "any"),
    Key("lane.paths*", "the hosts lane's paths", "warn", "any"),
    Key("lane.*", "VM lane", "warn", "any"),
    Key("scenarios.*.definition.name", "scenario name", "ignore"),
    Key("scenarios.*.definition.description", "scenario description", "ignore"),
    Key("scenarios.*.definition.protocols", "protocols", "incomparable", "list"),
    # A sysctl is what one gates a change of, not a different experiment.
    Key("scenarios.*.definition.sysctls*", "sysctl set by the scenario", "warn", "any"),
    Key("scenarios.*.definition.*", "scenario definition", "incomparable", "any"),
    Key("scenarios.*.expected_subflows", "expected MPTCP subflows", "incomparable", "int"),
    # Two emulations of the same delay (docs/delay.md): they agree within a
    # few per cent, which is a difference in what was measured.
    Key("scenarios.*.delay_backend", "delay backend (host delay line or netem)", "incomparable"),
    # What it ran on: comparing across these is the point, but say so.
    Key("suite.warmup", "warm-up pairs", "warn", "int"),
    Key("suite.name", "suite", "warn"),
    Key("suite.scenarios", "suite scenarios", "warn", "list"),
    Key("suite.description", "suite description", "ignore"),
    Key("suite.definitions*", "the plan's scenario definitions (as scenarios.*.definition)",
        "ignore", "any"),
    Key("suite.scenario_files", "scenario files", "info", "list"),
    Key("suite.explicit", "scenarios named on the command line", "info", "bool"),
    Key("suite.retries", "re-runs of a disturbed trial", "info", "int", default=0),
    Key("suite.quiet_machine", "refuse a busy machine", "info", "bool", default=False),
    Key("suite.disturbed_above", "foreign CPU that makes a trial disturbed", "info", "float",
        default=0.03),
    Key("resumes", "resumes of the run", "info", "any"),
    Key("scenarios.*.state", "scenario state", "warn"),
    Key("scenarios.*.reason", "why the scenario was skipped", "warn"),
    Key("scenarios.*.warmup*", "warm-up outcomes", "ignore", "any"),
    Key("scenarios.*.readback.namespaces", "namespaces", "ignore", "list"),
    Key("scenarios.*.readback.hosts.*", "hosts the scenario ran on", "info"),
    Key("scenarios.*.readback.sysctls.*", "sysctl read back", "warn"),
    Key("scenarios.*.readback.qdiscs.*", "qdiscs read back", "warn", "any"),
    Key("scenarios.*.readback.path_manager.*", "path manager read back", "warn", "any"),
    Key("scenarios.*.readback.nftables", "nftables rules read back", "warn"),
    # GRO/GSO/TSO change what a transfer costs, and not alike for both protocols
    Key("scenarios.*.readback.offloads.*", "interface offloads read back", "incomparable", "bool"),
    Key("scenarios.*.readback.iptables", "iptables rules read back", "warn"),
    Key("kernel.release", "kernel release", "warn"),
    Key("kernel.version", "kernel build", "warn"),
    Key("kernel.machine", "architecture", "warn"),
    Key("kernel.config.*", "kernel config option", "warn"),
    Key("cpu.model", "CPU model", "warn"),
    Key("cpu.count", "CPU count", "warn", "int"),
    Key("cpu.usable", "usable CPUs", "warn", "list"),
    Key("cpu.governor", "frequency governor", "warn"),
    Key("tools.*", "tool version", "warn"),
    Key("socket_options.*", "socket option support (MPTCP against TCP)", "warn"),
    Key("packages.*", "package version", "warn"),
    # The lock the venv was installed from (bench/run/environment.py): moving it is
    # a deliberate step, said like a kernel change.
    Key("environment.lock", "locked environment (requirements.lock digest)", "warn",
        fmt=lambda v: plain(v)[:19]),
    Key("environment.matches_lock", "packages installed exactly as locked", "warn", "bool"),
    Key("environment.drift.*", "package installed other than locked", "warn"),
    Key("python", "Python", "warn"),
    Key("hostname", "host", "warn"),
    Key("git.dirty", "uncommitted changes", "warn", "bool"),
    # For the record.
    Key("git.revision", "mptcp-bench revision", "info"),
    Key("loadavg_start", "load average at start", "info", "list"),
    Key("loadavg_end", "load average at end", "info", "list"),
    Key("machine_load.busy", "machine busy before the run", "info", "bool"),
    Key("machine_load.*", "the machine's load before the run", "ignore", "any"),
    Key("started", "started", "ignore"),
    Key("finished", "finished", "ignore"),
    Key("argv", "command line", "ignore", "list"),
    Key("pid", "orchestrator pid", "ignore", "int"),
)


def lookup(key: str) -> Key | None:
    return next((k for k in REGISTRY if fnmatch.fnmatchcase(key, k.pattern)), None)


def flatten(value, prefix: str = "") -> dict:
    """Nested dicts, and lists of dicts, to dotted keys ("links.1.rate_mbit"),
    so that a difference names the field that changed; lists of plain
    values and scalars are leaves, an empty dict has none."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        value = {str(i): v for i, v in enumerate(value)}
    if not isinstance(value, dict):
        return {prefix: value}
    out = {}
    for k, v in value.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def view(doc: dict, scenarios: set[str] | None = None) -> dict:
    """The comparable part of a results document, flattened: the run's
    metadata (with a hosts run's identity, hosts_identity) and its scenario
    entries (only `scenarios`, when given), each definition as the current
    model reads it."""
    entries = {n: {**e, "definition": normalized(e.get("definition"))}
               for n, e in (doc.get("scenarios") or {}).items()
               if scenarios is None or n in scenarios}
    meta = doc.get("metadata") or {}
    return {**flatten(meta), **hosts_identity(meta.get("lane") or {}),
            **flatten({"scenarios": entries})}


HOST_ROLES = ("client", "server", "router")


def hosts_identity(lane: dict) -> dict:
    """What makes two hosts runs the same experiment, keyed by role and path
    rather than by host name: each role's host name and kernel (None for a
    router the inventory does not have) and the driver of each path's NIC
    on either end (a virtual interface's kind when it has no driver)."""
    if lane.get("kind") != "hosts":
        return {}
    by_role = {h.get("role"): (name, h) for name, h in (lane.get("hosts") or {}).items()}
    out: dict = {}
    for role in HOST_ROLES:
        name, h = by_role.get(role, (None, {}))
        out[f"hosts_lane.{role}.host"], out[f"hosts_lane.{role}.kernel"] = name, h.get("kernel")
    for i, path in enumerate(lane.get("paths") or []):
        for role in ("client", "server"):
            host = by_role.get(role, (None, {}))[1]
            nic = (host.get("nics") or {}).get(_ifname(host, path.get(f"{role}_address")))
            out[f"hosts_lane.path{i}.{role}.nic"] = _nic(nic)
    return out


def _ifname(host: dict, address: str | None) -> str | None:
    """The interface that holds `address`, as the preflight read it."""
    return next((i for i, addrs in (host.get("addresses") or {}).items()
                 if any(a.get("local") == address for a in addrs)), None)


def _nic(nic: dict | None) -> str | None:
    if not nic:
        return None
    return nic.get("driver") or (f"{nic['kind']} (virtual)" if nic.get("kind") else None)


def normalized(definition: dict | None):
    """A scenario definition with the current model's defaults filled in: a
    field added since a run was recorded, at its default, is no difference.
    A definition the model no longer accepts is compared as recorded."""
    if not isinstance(definition, dict):
        return definition
    try:
        return Scenario.model_validate(definition).model_dump(mode="json")
    except ValueError:
        return definition


@dataclass(frozen=True)
class Difference:
    key: str
    label: str
    policy: str            # a registry policy, or "unregistered"
    base: str
    cand: str

    def line(self) -> str:
        return f"{self.label} ({self.key}): {self.base} → {self.cand}"


_MISSING = object()


def differences(base: dict, cand: dict, scenarios: set[str]) -> list[Difference]:
    """Every metadata key whose value differs between two results documents,
    over the scenarios both ran, with its policy; ignored keys left out."""
    a, b = view(base, scenarios), view(cand, scenarios)
    out = []
    for key in sorted(set(a) | set(b)):
        entry = lookup(key)
        missing = entry.default if entry and entry.default is not None else _MISSING
        va, vb = a.get(key, missing), b.get(key, missing)
        if va == vb or (entry and entry.policy == "ignore"):
            continue
        policy = entry.policy if entry else "unregistered"
        if _MISSING in (va, vb) and policy == "incomparable":
            policy = "warn"     # recorded by one run only: a newer or older mptcp-bench
        show = entry.show if entry else plain
        text = [("(absent)" if v is _MISSING else show(v)) for v in (va, vb)]
        out.append(Difference(key, entry.label if entry else "unregistered key", policy, *text))
    return out


def incomparable(diffs: list[Difference]) -> list[Difference]:
    return [d for d in diffs if d.policy == "incomparable"]


def unregistered(doc: dict) -> list[str]:
    """Keys of a document the registry does not know."""
    return sorted(k for k in view(doc) if lookup(k) is None)
