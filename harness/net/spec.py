"""What a topology and its link events are, as data: pure Python, so that
scenario definitions validate (and runs compare) without the engine."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness import limits
from harness.errors import TopologyError
from harness.net import addressing, shaping

# Who delays packets (docs/delay.md).  A scenario asks for one of these...
DelayBackendRequest = Literal["auto", "host", "netem"]
# ...and preflight resolves it, once, into one of these: auto is netem where
# the kernel has it, else the host delay line (capabilities.delay_backend).
DelayBackend = Literal["host", "netem"]


@dataclass(frozen=True)
class LinkSpec:
    """One path.  "up" is client -> server, "down" server -> client."""
    rate_up_mbit: float | None = None
    rate_down_mbit: float | None = None
    loss_up_pct: float = 0.0
    loss_down_pct: float = 0.0
    delay_ms: float = 0.0     # one way, applied in each direction
    jitter_ms: float = 0.0
    queue_ms: float = 25.0    # bottleneck queue, in time at the shaped rate
    mtu: int = 1500
    reorder: bool = False     # jitter may reorder packets
    distribution: str | None = None   # jitter's distribution table (uniform without one)

    def direction(self, way: str) -> shaping.Direction:
        up = way == "up"
        return shaping.Direction(
            rate_mbit=self.rate_up_mbit if up else self.rate_down_mbit,
            loss_pct=self.loss_up_pct if up else self.loss_down_pct,
            delay_ms=self.delay_ms, jitter_ms=self.jitter_ms, queue_ms=self.queue_ms,
            reorder=self.reorder, distribution=self.distribution)


PATH_MANAGERS = ("kernel", "userspace")
ATTACKERS = (None, "off_path", "on_path")
USERSPACE_FLAGS = ("subflow", "backup")


@dataclass(frozen=True)
class Endpoint:
    """An MPTCP path-manager endpoint: the address of `side` on `link`."""
    side: str                 # "client" or "server"
    link: int
    flags: tuple[str, ...] = ("subflow",)


@dataclass(frozen=True)
class TopologySpec:
    links: tuple[LinkSpec, ...]
    endpoints: tuple[Endpoint, ...] = ()
    subflows_limit: int = limits.PM_MAX_LIMIT
    add_addr_accepted_limit: int = limits.PM_MAX_LIMIT
    sysctls: tuple[tuple[str, str], ...] = ()   # applied in client and server
    client_sysctls: tuple[tuple[str, str], ...] = ()   # then in the client only
    families: tuple[int, ...] = (4, 6)
    strip_mptcp_links: tuple[int, ...] = ()     # a middlebox strips option 30 on these
    syn_drops: tuple[tuple[int, str], ...] = ()  # (link, mp_capable | mp_join): SYNs dropped there
    offloads: tuple[tuple[str, bool], ...] = ()  # set on every interface (harness.net.offloads)
    # Who opens the client's subflows: the in-kernel PM from `endpoints`, or
    # the userspace PM driven by mptcpd (harness.net.mptcpd), one subflow from
    # each client `subflow` endpoint's address (`backup` kept).
    path_manager: str = "kernel"
    # The resolved backend that delays this topology's links; None while a
    # request of auto is not resolved (a Topology refuses to build it then).
    delay_backend: DelayBackend | None = None
    # An attacker's namespace on the router (harness.attack): off_path, it
    # can send to both ends; on_path, it also gets a copy of every packet
    # crossing link `attacker_link`.
    attacker: str | None = None
    attacker_link: int = 0

    def __post_init__(self) -> None:
        if not 1 <= len(self.links) <= addressing.MAX_LINKS:
            raise TopologyError(f"a topology has 1 to {addressing.MAX_LINKS} links, not {len(self.links)}")
        for ep in self.endpoints:
            if ep.side not in ("client", "server") or not 0 <= ep.link < len(self.links):
                raise TopologyError(f"endpoint {ep} names no existing side/link")
        for side in ("client", "server"):
            count = sum(1 for ep in self.endpoints if ep.side == side) * len(self.families)
            if count > limits.PM_MAX_LIMIT:
                raise TopologyError(f"{count} {side} path-manager endpoints (one per link and address "
                                    f"family), but the kernel holds at most {limits.PM_MAX_LIMIT}")
        if any(not 0 <= i < len(self.links) for i in self.strip_mptcp_links):
            raise TopologyError(f"middlebox on a link the topology lacks: {self.strip_mptcp_links}")
        if any(not 0 <= i < len(self.links) or k not in ("mp_capable", "mp_join")
               for i, k in self.syn_drops):
            raise TopologyError(f"SYN drops name a link the topology lacks or an unknown kind: "
                                f"{self.syn_drops}; kinds are mp_capable and mp_join")
        unknown = [k for k, _ in self.offloads if k not in limits.OFFLOADS]
        if unknown:
            raise TopologyError(f"unknown offload(s) {unknown}: {', '.join(limits.OFFLOADS)}")
        if self.path_manager not in PATH_MANAGERS:
            raise TopologyError(f"no path manager {self.path_manager!r}: {' or '.join(PATH_MANAGERS)}")
        if self.path_manager == "userspace":
            odd = sorted({f for ep in self.endpoints if ep.side == "client" for f in ep.flags}
                         - set(USERSPACE_FLAGS))
            if odd:
                raise TopologyError(f"the userspace path manager (mptcpd) opens one subflow per client "
                                    f"endpoint and knows no flag {', '.join(odd)}: give client "
                                    f"endpoints only {' and '.join(USERSPACE_FLAGS)}, or use "
                                    f"path_manager = \"kernel\"")
        if self.attacker not in ATTACKERS or not 0 <= self.attacker_link < len(self.links):
            raise TopologyError(f"no attacker {self.attacker!r} on link {self.attacker_link}: "
                                f"{' or '.join(a for a in ATTACKERS if a)}, on a link the topology has")
        if self.delay_backend not in (None, "host", "netem"):
            raise TopologyError(f"no delay backend {self.delay_backend!r}: host or netem")

    @staticmethod
    def default_endpoints(n_links: int) -> tuple[Endpoint, ...]:
        """The client announces one `subflow` endpoint per extra link."""
        return tuple(Endpoint("client", i) for i in range(1, n_links))

    @property
    def delayed(self) -> bool:
        return any(link.direction(way).delayed for link in self.links for way in ("up", "down"))

    def needs(self) -> set[str]:
        """Kernel features this topology needs beyond netns and veth
        ("delay": any delay backend, until one is resolved)."""
        need = set()
        for link in self.links:
            for way in ("up", "down"):
                d = link.direction(way)
                need |= {"tbf"} if d.shaped else set()
                need |= {"nftables"} if d.loss_pct > 0 else set()
        if self.delayed:
            need |= {f"delay:{self.delay_backend}" if self.delay_backend else "delay"}
        need |= {"nft-mptcp"} if self.syn_drops else set()
        need |= {"pm-userspace"} if self.path_manager == "userspace" else set()
        need |= {"pm-laminar"} if any("laminar" in ep.flags for ep in self.endpoints) else set()
        need |= {"tc-mirred"} if self.attacker == "on_path" else set()
        return need | ({"tcpoptstrip"} if self.strip_mptcp_links else set())


@dataclass(frozen=True)
class LinkEvent:
    at_s: float
    link: int
    action: str                 # down | up | rate | strip_mptcp (a middlebox from then on)
    #                             readdress: the client's address on the link changes;
    #                             readdress_pm: and the in-kernel PM's endpoint follows it
    rate_mbit: float | None = None
    direction: str = "both"     # for rate: up | down | both
    attack: str | None = None   # attack: which (harness.attack.kinds), from the attacker on `link`
    count: int = 1              # attack: how many packets of it, where it sends several
    rate_pps: float | None = None   # a sustained attack (syn_flood): packets per second
