"""The hosts lane: connections, preflight and installs for a run, and per
scenario a topology whose paths are the inventory's, with the interface of
harness.net.topology.Topology that drivers and trialrun use."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from bench.catalog import Link, Scenario
from bench.hosts import install, preflight, router, survey
from bench.hosts.inventory import Inventory
from bench.hosts.remote import RemoteWatch, RemoteWorker
from bench.hosts.ssh import Connection, HostError, Loop
from harness.measure import cpustat, mib
from harness.net.events import EventRunner
from harness.traffic.site import NoLinkEvents

log = logging.getLogger(__name__)
ENDPOINT_ROLES = ("client", "server")
PM_STATE = "state/pm-saved.json"
LINKS_STATE = "state/links-saved.json"
RECONNECT_S = 60.0      # how long a lost host is waited for before the run stops (resumable)
# Link events a configurable router host applies (bench.hosts.router).
ROUTER_EVENTS = ("down", "up", "rate", "strip_mptcp")


def unfit(scenario: Scenario, inv: Inventory) -> str | None:
    """Why the scenario cannot run on these hosts, or None."""
    if len(scenario.links) > len(inv.paths):
        return (f"scenario {scenario.name!r} needs {len(scenario.links)} paths and the "
                f"inventory has {len(inv.paths)}")
    if scenario.family != inv.family:
        return f"scenario {scenario.name!r} is IPv{scenario.family} and the paths are IPv{inv.family}"
    if scenario.sysctls or scenario.client_sysctls:
        return (f"scenario {scenario.name!r} sets sysctls, and on hosts nothing but the MPTCP "
                "endpoints is changed")
    if not inv.shaping_host() and (scenario.middlebox.strip_mptcp or scenario.middlebox.drop_syn or scenario.events):
        return (f"scenario {scenario.name!r} needs a router the suite configures (middlebox, "
                "events): mark a router host configurable in the inventory")
    if scenario.middlebox.drop_syn:
        return (f"scenario {scenario.name!r} drops MPTCP SYNs at a middlebox, after which the "
                "client's kernel may keep MPTCP off for its blackhole_timeout beyond the run, so "
                "only a local topology (whose namespaces go with it) does that")
    other = sorted({e.action for e in scenario.events} - set(ROUTER_EVENTS))
    if other:
        return (f"scenario {scenario.name!r} has {other[0]} events, which only a local topology "
                f"applies; a router host applies {', '.join(ROUTER_EVENTS)}")
    if scenario.mptcp.path_manager != "kernel":
        return (f"scenario {scenario.name!r} runs the userspace path manager (mptcpd), which "
                "only a local topology starts; on hosts the in-kernel one sets the endpoints")
    if scenario.load:
        return (f"scenario {scenario.name!r} runs a competing CPU load, which only a local "
                "topology starts")
    return None


def as_measured(scenario: Scenario, surveyed_mbit: list[float | None] | None = None) -> Scenario:
    """The scenario on paths measured as they are: nothing shaped, its
    links' model unknown, or the rate each path's survey measured (never
    applied, never in the recorded definition: catalog.Link.surveyed_mbit)."""
    rates = [*(surveyed_mbit or ()), *[None] * len(scenario.links)]
    return scenario.model_copy(update={"links": tuple(
        Link(mtu=l.mtu).model_copy(update={"surveyed_mbit": r}) for l, r in zip(scenario.links, rates))})


def pm_config(scenario: Scenario, side: str, inv: Inventory, ifnames: list[dict]) -> dict:
    """The scenario's endpoints and limits for one side, in inventory addresses."""
    spec = scenario.topology()
    eps = []
    for ep in spec.endpoints:
        if ep.side == side:
            path = inv.paths[ep.link]
            eps.append({"address": path.client_address if side == "client" else path.server_address,
                        "ifname": ifnames[ep.link][side], "flags": list(ep.flags)})
    return {"limits": {"subflows": spec.subflows_limit,
                       "add_addr_accepted": spec.add_addr_accepted_limit}, "endpoints": eps}


def links_config(scenario: Scenario, inv: Inventory, delay_backend: str | None = None) -> dict:
    """The scenario's link model on a configurable router: per direction of
    each path, the egress interface it is shaped on and the ingress one its
    loss is drawn on (as harness.net.topology does on its own router); the
    host delay line's queues when it delays, and the middlebox's interfaces."""
    egress = [e for i in range(len(scenario.links)) for e in router.link_egress(scenario, inv, i)]
    qs = router.queues(scenario, inv) if delay_backend == "host" else []
    return {"egress": egress, "netem": delay_backend != "host", "families": [inv.family],
            "queues": [{"num": q.num, "ifname": q.ifname} for q in qs],
            "strip": router.strip_ifnames(scenario, inv)}


class Lane:
    def __init__(self, inv: Inventory, path: Path, use_host_config: bool = False,
                 reconnect_s: float = RECONNECT_S):
        self.inv, self.path, self.use_host_config = inv, path, use_host_config
        self.reconnect_s = reconnect_s
        self.current: HostsTopology | None = None     # the scenario whose changes are applied
        self.conns: dict[str, Connection] = {}
        self.facts: dict[str, dict] = {}
        self.installs: dict[str, install.Install] = {}
        self.bundle_id: str | None = None
        self.ifnames: list[dict] = []
        self.survey: dict | None = None
        self.loop: Loop | None = None
        self.delay_backends: dict[str, str] = {}    # scenario -> its backend on the router host
        self.unserved: dict[str, str] = {}          # scenario -> why the router cannot serve it
        # The roles the run installs on and may change: a configurable router too.
        self.managed = ENDPOINT_ROLES + (("router",) if inv.shaping_host() else ())

    def __enter__(self) -> "Lane":
        self.loop = Loop()
        try:
            for h in self.inv.hosts.values():
                self.conns[h.role] = Connection(self.loop, h).open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for role in self.managed:    # what a dead run left, and ours if a restore failed
            if role in self.installs and role in self.conns:
                self._restore(role)
        for c in self.conns.values():
            c.close()
        if self.loop:
            self.loop.close()

    def recover(self, say) -> None:
        """After a fault: every host that no longer answers is reconnected,
        for up to reconnect_s, and gets the current scenario's changes again
        (a host that rebooted lost them).  A host that stays away, or comes
        back with another kernel, raises HostError."""
        for role, conn in list(self.conns.items()):
            if not conn.alive():
                self._reconnect(role, say)

    def _reconnect(self, role: str, say) -> None:
        h = self.inv.host(role)
        say(f"host {h.name!r} is lost; reconnecting for up to {self.reconnect_s:g} s")
        self.conns[role].close()
        t0 = time.monotonic()
        deadline, attempts = t0 + self.reconnect_s, 0
        while True:
            attempts += 1
            left = deadline - time.monotonic()
            try:
                self.conns[role] = Connection(self.loop, h).open(
                    timeout=max(1.0, min(left, h.ssh.connect_timeout_s)))
                break
            except HostError as exc:
                if time.monotonic() + 1 >= deadline:
                    raise HostError(f"host {h.name!r} did not come back within "
                                    f"{self.reconnect_s:g} s ({attempts} attempts; last: {exc})",
                                    h.name) from None
            time.sleep(1)
        kernel = self.conns[role].run(["uname", "-r"]).stdout.strip()
        if role in self.facts and kernel != self.facts[role]["kernel"]:
            raise HostError(f"host {h.name!r} came back with kernel {kernel}, and the run "
                            f"started on {self.facts[role]['kernel']}: one run measures one kernel",
                            h.name)
        if self.current is not None and role in self.current.changed:
            self.current.apply(role)
        if self.current is not None and self.current.clocks is not None:   # a reboot moves them
            self.current.clocks = (router.measure(self.conns["router"]),
                                   router.measure(self.conns["server"]))
        say(f"host {h.name!r} is back after {time.monotonic() - t0:.1f} s ({attempts} attempt(s))")

    def preflight(self, scenarios: list[Scenario], drivers=("native",)) -> None:
        needs_mptcp = any("mptcp" in s.protocols for s in scenarios)
        for role, conn in self.conns.items():
            self.facts[role] = preflight.facts(conn)
            preflight.check_host(conn.host, self.facts[role], needs_mptcp,
                                 changes=role == "router" or not self.use_host_config)
            if "iperf3" in drivers and role in ENDPOINT_ROLES:
                preflight.check_iperf3(conn.host, self.facts[role])
        self.ifnames = preflight.check_paths(self.inv, self.facts)
        if "router" in self.managed:
            caps = self.facts["router"]["router"] = router.probe(self.conns["router"])
            for s in scenarios:     # what the router cannot serve: why, per scenario
                try:
                    self.delay_backends.update(router.resolve([s], self.inv.host("router").name, caps))
                except HostError as exc:
                    self.unserved[s.name] = str(exc)
        for role, sides in (("client", 0), ("server", 1)):
            cpus = self.facts[role]["cpus"]
            for s in scenarios:
                cpu = s.cpu.cpus()[sides]
                if cpu is not None and cpu >= cpus:
                    raise HostError(f"scenario {s.name!r} pins a worker to CPU {cpu}, but host "
                                    f"{self.inv.host(role).name!r} has {cpus} CPU(s); change its "
                                    "cpu table")

    def changes(self, scenarios: list[Scenario], bundle_id: str) -> list[str]:
        """Every change the run would make, as lines (for --dry-run)."""
        lines = []
        for role in self.managed:
            h, f = self.inv.host(role), self.facts[role]
            d = install.target_dir(f["home"], h.install_dir, bundle_id, h.name)
            there = install.installed(self.conns[role], bundle_id, f["home"],
                                      {"python": f["python"], "machine": f["machine"]})
            lines.append(f"host {h.name}: " + (f"the worker is installed in {d}" if there else
                                               f"install the worker into {d}"))
        for s in scenarios:
            for role in ENDPOINT_ROLES:
                h, cfg = self.inv.host(role), pm_config(s, role, self.inv, self.ifnames)
                if self.use_host_config:
                    lines.append(f"host {h.name}, scenario {s.name}: no change (--use-host-config)")
                    continue
                eps = ", ".join(f"{e['address']} dev {e['ifname']} {'/'.join(e['flags'])}"
                                for e in cfg["endpoints"]) or "none"
                lines.append(f"host {h.name}, scenario {s.name}: MPTCP limits subflows "
                             f"{cfg['limits']['subflows']} add_addr_accepted "
                             f"{cfg['limits']['add_addr_accepted']}, endpoints {eps}; restored after")
            if "router" in self.managed:
                lines += self._router_changes(s)
        return lines

    def _router_changes(self, s: Scenario) -> list[str]:
        where = f"host {self.inv.host('router').name}, scenario {s.name}"
        backend = self.delay_backends.get(s.name)
        cfg = links_config(s, self.inv, backend)
        shaped = ", ".join(f"{e['ifname']} rate {e['rate_mbit']} Mbit/s loss {e['loss_pct']:g}% "
                           f"delay {e['delay_ms']:g} ms" for e in cfg["egress"])
        lines = [f"{where}: shape {shaped or 'nothing'}"
                 + (f" (delay by {'netem' if backend == 'netem' else 'the host delay line'})"
                    if backend else "") + "; removed after"]
        if cfg["queues"]:
            lines.append(f"{where}: run the host delay line, with iptables NFQUEUE rules on "
                         + ", ".join(f"{q['ifname']} (queue {q['num']})" for q in cfg["queues"])
                         + "; stopped and removed after")
        if cfg["strip"]:
            lines.append(f"{where}: strip the MPTCP option (iptables TCPOPTSTRIP) on "
                         f"{', '.join(cfg['strip'])}; removed after")
        for ev in s.events:
            lines.append(f"{where}: at {ev.at_s:g} s of each trial, {ev.action}"
                         + (f" {ev.rate_mbit:g} Mbit/s {ev.direction}" if ev.action == "rate" else "")
                         + f" on {', '.join(router.path_ifnames(self.inv, ev.link))}; put back after")
        return lines

    def install(self) -> None:
        b = install.bundle()
        self.bundle_id = b.id
        for role in self.managed:
            f = self.facts[role]
            self.installs[role] = install.install(self.conns[role], b, f["home"],
                                                  {"python": f["python"], "machine": f["machine"]})
            self._restore(role)      # what a killed run changed, before anything else

    def survey_paths(self, scenarios: list[Scenario]) -> list[Scenario]:
        """Survey the paths (bench.hosts.survey); on paths nobody shapes, the
        scenarios with the surveyed rates as their links' model."""
        self.survey = survey.run(self, self.topology(None))
        return self.surveyed(scenarios)

    def surveyed(self, scenarios: list[Scenario]) -> list[Scenario]:
        """The scenarios on this lane's survey (a resumed run's: the one it
        recorded, so that its limits stay those of its first trials)."""
        if self.inv.shaping_host():
            return scenarios
        return [as_measured(s, survey.capacities(self.survey, [l.mtu for l in s.links],
                                                 self.inv.family)) for s in scenarios]

    def metadata(self) -> dict:
        hosts = {}
        for role, f in self.facts.items():
            h = self.inv.host(role)
            ifaces = ({p[role] for p in self.ifnames} if role in ENDPOINT_ROLES else
                      {i for p in self.inv.paths for i in (p.router_up_interface,
                                                           p.router_down_interface) if i})
            hosts[h.name] = {"role": role, "ssh": h.ssh.target(),
                             **{k: f[k] for k in ("kernel", "machine", "cpus", "python", "tools", "iperf3",
                                                  "mptcp_enabled", "path_manager", "clock")},
                             "nics": {i: preflight.nic(self.conns[role], f, i) for i in sorted(ifaces)},
                             "addresses": {i: [a for link in f["addresses"] if link["ifname"] == i
                                               for a in link.get("addr_info", [])]
                                           for i in sorted(ifaces)},
                             "install": self.installs[role].directory if role in self.installs else None}
        router = self.inv.shaping_host()
        return {"kind": "hosts", "inventory": str(self.path.resolve()),
                "link_model": f"shaped on router {router.name}" if router else
                survey.link_model(self.survey),
                "use_host_config": self.use_host_config, "reconnect_s": self.reconnect_s,
                "inventory_sha256": self.inventory_digest(),
                "worker": self.bundle_id,
                "paths": [p.model_dump() for p in self.inv.paths], "hosts": hosts,
                "survey": self.survey}

    def inventory_digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def resumable(self, then: dict) -> str | None:
        """What differs from the lane a run recorded (`then`, its
        metadata.lane), so that resuming it would mix two experiments."""
        if then.get("inventory_sha256") != self.inventory_digest():
            return f"the inventory {self.path} changed"
        now = self.metadata()["hosts"]
        if set(now) != set(then.get("hosts", {})):
            return f"the hosts are {sorted(now)}, the run had {sorted(then.get('hosts', {}))}"
        for name, host in now.items():
            was = then["hosts"][name]
            for key, what in (("role", "role"), ("kernel", "kernel"), ("install", "installed worker")):
                if host[key] != was.get(key):
                    return f"host {name!r}'s {what} is {host[key]}, the run had {was.get(key)}"
        return None

    def topology(self, scenario: Scenario | None) -> "HostsTopology":
        """The scenario's topology; with None (the survey's), one that is
        never entered: the hosts as they are."""
        return HostsTopology(self, scenario)

    def hostctl(self, role: str, *args: str) -> dict:
        done = self.conns[role].run([self.installs[role].python, "-m", "harness.agents.hostctl", *args])
        return json.loads(done.stdout)

    def state_file(self, role: str) -> str:
        return f"{self.installs[role].directory}/{LINKS_STATE if role == 'router' else PM_STATE}"

    def apply(self, role: str, config: dict) -> None:
        what = "links-apply" if role == "router" else "pm-apply"
        self.hostctl(role, what, self.state_file(role), json.dumps(config))

    def restore(self, role: str) -> bool:
        what = "links-restore" if role == "router" else "pm-restore"
        return bool(self.hostctl(role, what, self.state_file(role))["restored"])

    def _restore(self, role: str) -> None:
        if role != "router" and self.use_host_config:
            return
        try:
            if self.restore(role):
                log.info("restored what a run changed on host %s", self.inv.host(role).name)
        except HostError as exc:
            log.warning("%s", exc)


class HostsTopology:
    """One scenario on the hosts: its endpoints applied on entering and
    restored on leaving (unless --use-host-config); on a configurable
    router, its link model, middlebox and host delay line."""

    def __init__(self, lane: Lane, scenario: Scenario):
        self.lane, self.scenario = lane, scenario
        self.delay_backend = (lane.delay_backends.get(scenario.name)
                              if scenario is not None and "router" in lane.managed else None)
        self.delay_line: router.RemoteDelayLine | None = None
        self.clocks: tuple[router.Offset, router.Offset] | None = None

    def __enter__(self) -> "HostsTopology":
        self.changed: list[str] = []
        self.lane.current = self
        try:
            for role in self._roles():
                if role == "router":
                    self._enter_router()
                    continue
                self.changed.append(role)
                self.apply(role)
        except BaseException:
            self.__exit__()
            raise
        return self

    def apply(self, role: str) -> None:
        """The scenario's changes on one endpoint host (again, after it was lost)."""
        if role == "router":
            if self.delay_line is not None:
                raise HostError(f"host {self.lane.inv.host('router').name!r} was lost, and the "
                                "delay line it ran with it", self.lane.inv.host("router").name)
            self.lane.apply("router", links_config(self.scenario, self.lane.inv, self.delay_backend))
            return
        self.lane.apply(role, pm_config(self.scenario, role, self.lane.inv, self.lane.ifnames))

    def _enter_router(self) -> None:
        """The delay line binds its queues before hostctl adds the rules
        that send packets to them (an unbound queue drops)."""
        if self.delay_backend == "host":
            self.delay_line = router.RemoteDelayLine(self.lane, router.queues(self.scenario, self.lane.inv))
            self.delay_line.__enter__()
        self.changed.append("router")
        self.lane.apply("router", links_config(self.scenario, self.lane.inv, self.delay_backend))
        if self.scenario.events:    # once per scenario: each trial's events on the server's clock
            self.clocks = (router.measure(self.lane.conns["router"]),
                           router.measure(self.lane.conns["server"]))

    def _roles(self) -> list[str]:
        return [r for r in self.lane.managed if r == "router" or not self.lane.use_host_config]

    def __exit__(self, *exc) -> None:
        self.lane.current = None
        try:
            for role in reversed(self.changed):
                try:
                    self.lane.restore(role)
                except HostError as err:     # a lost host: its saved state waits for the next run
                    log.warning("%s; what the scenario changed there is restored by the next run "
                                "on it or `python -m bench clean --hosts`", err)
        finally:
            if self.delay_line is not None:     # after its rules are gone
                self.delay_line.stop()

    # The harness Site contract (harness.traffic.site): workers run in the
    # hosts' own namespaces, measured there; links change only on a router.
    local = False
    owner = None
    delay_backend: str | None = None                 # per scenario: set on construction
    delay_line: router.RemoteDelayLine | None = None   # the router's, while entered
    path_manager = "kernel"
    pm_daemon_pid = None

    def ns(self, role: str) -> None:
        return None      # workers run in the host's own namespace

    def link_events(self, events):
        if self.clocks is None:
            return NoLinkEvents(events, "on hosts without a configurable router")
        return EventRunner(self, events, links=router.RouterLinks(self, *self.clocks))

    def client_address(self, family: int, link: int = 0) -> str:
        return self.lane.inv.paths[link].client_address

    def server_address(self, family: int, link: int = 0) -> str:
        return self.lane.inv.paths[link].server_address

    def start_worker(self, role: str, cfg: dict, label: str) -> RemoteWorker:
        side = "server" if role == "receiver" else "client"
        python = self.lane.installs[side].python
        return RemoteWorker(self.lane.conns[side], python,
                            [python, "-m", "harness.traffic.worker", json.dumps(cfg)], label)

    def start_command(self, side: str, argv: list[str], label: str) -> RemoteWorker:
        """A tool (iperf3) on the host of `side`, under a lease."""
        return RemoteWorker(self.lane.conns[side], self.lane.installs[side].python, argv, label)

    def socket_watch(self, side: str, family: int, port: int) -> RemoteWatch:
        python = self.lane.installs[side].python
        return RemoteWatch(RemoteWorker(self.lane.conns[side], python,
                                        [python, "-m", "harness.agents.diagwatch", str(family), str(port),
                                         side], f"sock_diag watch of the {side}"))

    def mib_snapshot(self, side: str) -> dict:
        done = self.lane.conns[side].run(["cat", "/proc/net/netstat", "/proc/net/snmp"])
        return mib.parse(done.stdout)

    def cpu_read(self) -> dict:
        """The sender host's /proc/stat (the outer CPU window)."""
        return cpustat.parse(self.lane.conns["client"].run(["cat", "/proc/stat"]).stdout)

    def offloads(self) -> None:
        """Not read per trial on hosts: the preflight records each host's
        interfaces' offloads (ethtool -k) in the run's metadata."""
        return None

    def read_back(self, sysctls: tuple[str, ...] = ()) -> dict:
        """Endpoints and qdiscs on the hosts (their sysctls stay the hosts' own)."""
        out = {"hosts": {r: self.lane.inv.host(r).name for r in self.lane.managed},
               "path_manager": {r: self.lane.hostctl(r, "pm-show") for r in ENDPOINT_ROLES}}
        if "router" in self.lane.managed:
            out["qdiscs"] = self.lane.hostctl("router", "qdiscs")
        return out
