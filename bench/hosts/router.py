"""What a configurable router host does beyond shaping, seen from the
controller: the host delay line (started under a lease, its rules added by
hostctl), a scenario's middlebox, link events at their times, and the
clocks that place those events on the receiver's series.  docs/hosts.md,
"Link model"."""
from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass

from bench.catalog import Scenario
from bench.hosts.inventory import Inventory
from bench.hosts.remote import RemoteWorker
from bench.hosts.ssh import Connection, HostError
from harness.errors import TopologyError
from harness.net import delayline
from harness.net.spec import LinkEvent

READY_S = 15.0
STATS_S = 5.0
CLOCK_SAMPLES = 9
WAYS = {"up": ("router_up_interface", "router_down_interface"),      # (egress, ingress)
        "down": ("router_down_interface", "router_up_interface")}


# ------------------------------------------------------------ configs
def egress_entry(d, path, way: str, rate_mbit: float | None = None) -> dict:
    out, into = (getattr(path, a) for a in WAYS[way])
    return {"ifname": out, "ingress": into, "rate_mbit": d.rate_mbit if rate_mbit is None else rate_mbit,
            "loss_pct": d.loss_pct, "delay_ms": d.delay_ms, "jitter_ms": d.jitter_ms,
            "queue_ms": d.queue_ms}


def link_egress(scenario: Scenario, inv: Inventory, link: int) -> list[dict]:
    """The scenario's qdiscs on one path's router interfaces."""
    spec, path = scenario.topology().links[link], inv.paths[link]
    return [egress_entry(d, path, way) for way in ("up", "down")
            if (d := spec.direction(way)).shaped or d.loss_pct or d.delayed]


def queues(scenario: Scenario, inv: Inventory) -> list[delayline.Queue]:
    """The delay line's queues: one per delayed path direction, numbered as locally."""
    out = []
    for i, link in enumerate(scenario.topology().links):
        for way in ("up", "down"):
            d = link.direction(way)
            if d.delayed:
                out.append(delayline.Queue(delayline.queue_number(i, way),
                                           getattr(inv.paths[i], WAYS[way][0]), d.delay_ms,
                                           d.jitter_ms, d.reorder, d.distribution))
    return out


def strip_ifnames(scenario: Scenario, inv: Inventory) -> list[str]:
    """The router interfaces a scenario's middlebox strips MPTCP on (both of each path)."""
    links = scenario.topology().strip_mptcp_links
    return [getattr(inv.paths[i], a) for i in links for a in WAYS["up"]]


def path_ifnames(inv: Inventory, link: int) -> list[str]:
    return [getattr(inv.paths[link], a) for a in WAYS["up"]]


def event_config(ev: LinkEvent, scenario: Scenario, inv: Inventory, netem: bool) -> dict:
    """What hostctl link-event does for one of the scenario's events."""
    base = {"families": [inv.family], "netem": netem, "ifnames": path_ifnames(inv, ev.link)}
    if ev.action in ("down", "up"):
        return {**base, "action": ev.action}
    if ev.action == "strip_mptcp":
        return {**base, "action": "strip_on"}
    if ev.action == "rate":
        spec, path = scenario.topology().links[ev.link], inv.paths[ev.link]
        ways = ("up", "down") if ev.direction == "both" else (ev.direction,)
        return {**base, "action": "rate",
                "egress": [egress_entry(spec.direction(w), path, w, ev.rate_mbit) for w in ways]}
    raise HostError(f"link event {ev.action!r} does not run on a router host")


def reset_config(scenario: Scenario, inv: Inventory, link: int, netem: bool, stripped: bool) -> dict:
    """A path back as the scenario has it after a trial's events."""
    ifnames = path_ifnames(inv, link)
    return {"action": "reset", "families": [inv.family], "netem": netem, "ifnames": ifnames,
            "egress": link_egress(scenario, inv, link), "strip": ifnames if stripped else []}


# ------------------------------------------------------------ capabilities
def probe(conn: Connection) -> dict:
    """The router's kernel and tools, with its own commands (nothing stays):
    netem tried in a throwaway namespace, the delay line's library, iptables."""
    def ok(argv: list[str]) -> bool:
        return conn.run(argv, check=False, timeout=30).exit_status == 0
    return {"netem": ok(["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                         "delay", "1ms"]),
            "nfqueue": ok(["sh", "-c", "ldconfig -p | grep -q libnetfilter_queue.so.1"]),
            "iptables": ok(["sh", "-c", "command -v iptables"])}


def needs_iptables(s: Scenario) -> bool:
    return bool(s.topology().strip_mptcp_links) or any(e.action == "strip_mptcp" for e in s.events)


def resolve(scenarios: list[Scenario], name: str, caps: dict) -> dict[str, str]:
    """Each delayed scenario's delay backend on this router (auto: netem when
    its kernel has it, else the host delay line), refusing in one sentence
    what the router cannot do."""
    out = {}
    for s in scenarios:
        if needs_iptables(s) and not caps["iptables"]:
            raise HostError(f"router host {name!r} has no iptables, which scenario {s.name!r}'s "
                            "middlebox needs: install it there (Debian: iptables)")
        spec = s.topology()
        if not spec.delayed:
            continue
        backend = s.delay_backend if s.delay_backend != "auto" else ("netem" if caps["netem"] else "host")
        if backend == "netem" and not caps["netem"]:
            raise HostError(f"router host {name!r} has no netem, which scenario {s.name!r} asks "
                            "for (delay_backend = \"netem\"); use the host delay line")
        if backend == "host" and not (caps["nfqueue"] and caps["iptables"]):
            raise HostError(f"router host {name!r} lacks libnetfilter-queue or iptables, which the "
                            f"host delay line of scenario {s.name!r} needs: install libnetfilter-queue1 "
                            "and iptables there (Debian)")
        delayline.check_spec(spec.links, backend)
        out[s.name] = backend
    return out


# ------------------------------------------------------------ clocks
@dataclass(frozen=True)
class Offset:
    """A host's CLOCK_MONOTONIC minus the controller's, within ± uncertainty."""
    ns: int
    uncertainty_ns: int


def offset_from(samples: list[tuple[int, int, int]]) -> Offset:
    """From (controller before, host reading, controller after) samples: the
    one with the shortest round trip, its reading taken at its middle."""
    t0, remote, t1 = min(samples, key=lambda s: s[2] - s[0])
    return Offset(remote - (t0 + t1) // 2, (t1 - t0 + 1) // 2)


def translate(router_ns: int, router: Offset, server: Offset) -> tuple[int, int]:
    """A router's monotonic time on the server's clock, and its uncertainty."""
    return router_ns - router.ns + server.ns, router.uncertainty_ns + server.uncertainty_ns


# Answers each line on stdin with its CLOCK_MONOTONIC; ends with its stdin
# (the channel closing, whoever closes it).
ECHO = "import sys, time\nfor _ in sys.stdin:\n    print(time.monotonic_ns(), flush=True)\n"


def measure(conn: Connection, samples: int = CLOCK_SAMPLES) -> Offset:
    """The host's monotonic clock against this one's, over one SSH channel
    kept open for `samples` round trips (each one line each way)."""
    async def run() -> list[tuple[int, int, int]]:
        proc = await conn.conn.create_process(shlex.join([conn.host.python, "-u", "-c", ECHO]))
        out = []
        try:
            for _ in range(samples):
                t0 = time.monotonic_ns()
                proc.stdin.write("\n")
                line = await proc.stdout.readline()
                out.append((t0, int(line), time.monotonic_ns()))
        finally:
            proc.stdin.write_eof()
            proc.close()
        return out
    try:
        return offset_from(conn.loop.call(run(), 30))
    except (OSError, ValueError, TimeoutError) as exc:
        raise HostError(f"host {conn.host.name!r}: cannot read its monotonic clock: {exc}") from None


# ------------------------------------------------------------ the runner's links
class RouterLinks:
    """harness.net.events.LinkActions on a router host: each event is one
    hostctl link-event over SSH, timed by the router and placed on the
    receiver's (server's) clock."""

    # An event goes to the router this early, and hostctl waits there for
    # its time: starting hostctl over SSH took 180-360 ms here.
    lead_s = 1.0

    def __init__(self, topo, router: Offset, server: Offset):
        self.lane, self.scenario = topo.lane, topo.scenario
        self.netem = topo.delay_backend == "netem"
        self.router, self.server = router, server

    def now_ns(self) -> int:
        """The controller's now on the server's clock (an event that failed keeps it)."""
        return time.monotonic_ns() + self.server.ns

    def _event(self, cfg: dict) -> dict:
        return self.lane.hostctl("router", "link-event", self.lane.state_file("router"), json.dumps(cfg))

    def apply(self, ev: LinkEvent, due_ns: int | None) -> dict:
        """Applied on the router at `due_ns` (on its clock), or as soon as it
        gets there when that is later: `late_ms` says by how much."""
        due_ns = time.monotonic_ns() if due_ns is None else due_ns
        cfg = event_config(ev, self.scenario, self.lane.inv, self.netem)
        done = self._event({**cfg, "due_ns": due_ns + self.router.ns})
        at_ns, unc = translate(done["at_ns"], self.router, self.server)
        return {"at_ns": at_ns, "at_clock": "server", "at_uncertainty_ns": unc,
                "late_ms": round((done["at_ns"] - self.router.ns - due_ns) / 1e6, 3)}

    def restore(self, link: int, stripped: bool) -> None:
        self._event(reset_config(self.scenario, self.lane.inv, link, self.netem, stripped))


# ------------------------------------------------------------ the delay line
class RemoteDelayLine:
    """The host delay line on the router host, under a lease, with the
    interface trialrun reads (stats(), queues, worker)."""

    def __init__(self, lane, queues: list[delayline.Queue]):
        self.lane, self.queues = lane, queues
        self.worker: RemoteWorker | None = None
        self.pid: int | None = None

    def __enter__(self) -> "RemoteDelayLine":
        python = self.lane.installs["router"].python
        config = {"queues": [q.argument() for q in self.queues],
                  "seed": int.from_bytes(os.urandom(8), "little") or 1}
        self.worker = RemoteWorker(self.lane.conns["router"], python,
                                   [python, "-m", "harness.agents.delayhost", json.dumps(config)],
                                   "delay line")
        deadline = time.monotonic() + READY_S
        started, ready = self.worker.message(deadline), self.worker.message(deadline)
        if not (started and started.get("event") == "started" and ready and ready.get("event") == "ready"):
            self.worker.kill()
            raise TopologyError(f"the delay line {self.worker.exit_summary()}")
        self.pid = started["pid"]
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stats(self) -> dict:
        """Cumulative counters, as harness.net.delayline.DelayLine.stats()."""
        if self.worker is None or self.worker.proc.poll() is not None:
            raise TopologyError(f"the delay line has ended: {self.worker and self.worker.exit_summary()}")
        there = self.lane.hostctl("router", "delayline-stats", str(self.pid))
        deadline = time.monotonic() + STATS_S
        while (msg := self.worker.message(deadline)) is not None:
            if msg.get("event") == "stats":
                return {**msg, **there}
        raise TopologyError("the delay line on the router host did not answer for its counters")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
