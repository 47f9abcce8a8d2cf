"""Scenarios and suites are data: TOML tables validated here.

A definitions file holds any number of `[scenario.<name>]` and
`[suite.<name>]` tables.  The built-in ones live in bench/scenarios/ and
bench/suites/; `--scenario-file` adds a user's own, validated the same way.
Every error names the file, the table and the key, in one sentence.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bench import names, tomlfile
from bench.errors import InputError
from harness import limits
from harness.attack import kinds as attack_kinds
from harness.errors import TopologyError
from harness.net import addressing
from harness.net.spec import DelayBackend, DelayBackendRequest, Endpoint, LinkEvent, LinkSpec, TopologySpec
from harness.traffic.drivers import TrialParams
from harness.traffic.drivers import names as driver_names

BUILTIN_DIRS = (Path(__file__).parent / "scenarios", Path(__file__).parent / "suites")
MAX_RATE_MBIT = 32_000  # tbf's 32-bit byte rate tops out near 34 Gbit/s
PLACEMENTS = {"split": (0, 1), "same": (0, 0), "none": (None, None)}
MAX_MESSAGE = 1 << 20     # RR request/response sizes
MAX_DURATION_S = 3600     # one trial; the CLI's --duration takes the same bounds
MAX_REPEAT, MAX_WARMUP = 1000, 100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Link(_Model):
    """One path; `rate_mbit` and `loss_pct` set both directions at once."""
    rate_mbit: float | None = Field(None, gt=0, le=MAX_RATE_MBIT)
    rate_up_mbit: float | None = Field(None, gt=0, le=MAX_RATE_MBIT)
    rate_down_mbit: float | None = Field(None, gt=0, le=MAX_RATE_MBIT)
    loss_pct: float | None = Field(None, ge=0, lt=100)
    loss_up_pct: float | None = Field(None, ge=0, lt=100)
    loss_down_pct: float | None = Field(None, ge=0, lt=100)
    delay_ms: float = Field(0, ge=0, le=10_000)    # one way, each direction
    jitter_ms: float = Field(0, ge=0, le=10_000)
    # Jitter keeps packet order unless reorder is set; its values are uniform
    # in delay ± jitter, or drawn from an iproute2 distribution table (a name
    # such as normal or pareto, or a .dist file) with jitter as its sigma.
    reorder: bool = False
    distribution: str | None = Field(None, min_length=1, max_length=4096,
                                     pattern=r"^[A-Za-z0-9_./-]+$")
    queue_ms: float = Field(25, gt=0, le=10_000)
    mtu: int = Field(1500, ge=1280, le=65535)
    # Not a scenario's to give: the rate a hosts run's path survey measured on
    # an unshaped path (bench/hosts/survey.py), the link model of its goodput
    # limit.  Nothing is shaped to it, so it is never part of the recorded
    # definition; model_copy sets it (no validation), a scenario file cannot.
    surveyed_mbit: float | None = Field(None, exclude=True)

    @field_validator("surveyed_mbit")
    @classmethod
    def _not_given(cls, v):
        if v is not None:
            raise ValueError("surveyed_mbit is measured by a hosts run's path survey, not given")
        return v

    @model_validator(mode="after")
    def _jitter_options(self) -> "Link":
        if (self.reorder or self.distribution) and not self.jitter_ms:
            raise ValueError("reorder and distribution shape jitter: give jitter_ms too")
        return self

    def spec(self) -> LinkSpec:
        return LinkSpec(
            rate_up_mbit=_first(self.rate_up_mbit, self.rate_mbit),
            rate_down_mbit=_first(self.rate_down_mbit, self.rate_mbit),
            loss_up_pct=_first(self.loss_up_pct, self.loss_pct, 0.0),
            loss_down_pct=_first(self.loss_down_pct, self.loss_pct, 0.0),
            delay_ms=self.delay_ms, jitter_ms=self.jitter_ms, queue_ms=self.queue_ms,
            mtu=self.mtu, reorder=self.reorder, distribution=self.distribution)


def _first(*values):
    return next((v for v in values if v is not None), None)


class MptcpEndpoint(_Model):
    side: Literal["client", "server"] = "client"
    link: int = Field(ge=0, lt=addressing.MAX_LINKS)
    flags: tuple[Literal["signal", "subflow", "backup", "fullmesh", "laminar"], ...] = ("subflow",)


class Mptcp(_Model):
    """The path manager: the in-kernel one with `endpoints` (flags per link),
    or the userspace one driven by mptcpd in the client's namespace, which
    opens one subflow from each client `subflow` endpoint (`backup` kept)."""
    path_manager: Literal["kernel", "userspace"] = "kernel"
    endpoints: tuple[MptcpEndpoint, ...] | None = None   # None: one subflow endpoint per extra link
    subflows_limit: int = Field(limits.PM_MAX_LIMIT, ge=0, le=limits.PM_MAX_LIMIT)
    add_addr_accepted_limit: int = Field(limits.PM_MAX_LIMIT, ge=0, le=limits.PM_MAX_LIMIT)
    expected_subflows: int | None = Field(None, ge=1, le=64)


class ProtocolLinks(_Model):
    """The links each protocol's trials use, when they differ (a like-for-like
    comparison at an equal rate: TCP on one fast link, MPTCP on two slower
    ones).  A connection starts on its protocol's first link (the client
    binds to that link's address); MPTCP's further links get one client
    `subflow` endpoint each.  Without it: TCP on link 0, MPTCP on every link."""
    tcp: tuple[int, ...] = Field((0,), min_length=1, max_length=1)
    mptcp: tuple[int, ...] | None = Field(None, min_length=1, max_length=addressing.MAX_LINKS)

    @model_validator(mode="after")
    def _distinct(self) -> "ProtocolLinks":
        if self.mptcp and len(set(self.mptcp)) != len(self.mptcp):
            raise ValueError("protocol_links.mptcp names a link twice")
        return self


class Load(_Model):
    """A competing CPU-bound process (`while 1: pass`, normal priority)
    beside every trial, on the receiver's CPU, the sender's or each of
    them: the scenario's intended load, neither the trial's own CPU nor a
    disturbance (harness.measure.cpuload)."""
    cpus: Literal["receiver", "sender", "both"]


class Middlebox(_Model):
    """What the router does to MPTCP on these links (all of them when
    `links` is not given): strip its TCP option, or drop the client's SYNs
    that carry MP_CAPABLE (a new connection) or MP_JOIN (a new subflow)."""
    strip_mptcp: bool = False
    drop_syn: tuple[Literal["mp_capable", "mp_join"], ...] = ()
    links: tuple[int, ...] | None = None


AttackKind = Literal[tuple(attack_kinds.KINDS)]


class Event(_Model):
    """A link event during every trial, `at_s` seconds after it starts; or
    an attack from the attacker beside `link` (docs/security.md): `attack`
    says which, `count` how many of its packets where it sends several."""
    at_s: float = Field(ge=0, le=3600)
    link: int = Field(ge=0, lt=addressing.MAX_LINKS)
    action: Literal["down", "up", "rate", "strip_mptcp", "readdress", "readdress_pm", "attack"]
    rate_mbit: float | None = Field(None, gt=0, le=MAX_RATE_MBIT)
    direction: Literal["up", "down", "both"] = "both"
    attack: AttackKind | None = None
    count: int = Field(1, ge=1, le=10_000)
    rate_pps: float | None = Field(None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _rate_given(self) -> "Event":
        if (self.action == "rate") != (self.rate_mbit is not None):
            raise ValueError("a rate event needs rate_mbit, and only a rate event takes it")
        if (self.action == "attack") != (self.attack is not None):
            raise ValueError("an attack event needs `attack` (which one), and only an attack event "
                             f"takes it; attacks: {', '.join(attack_kinds.KINDS)}")
        if self.action == "attack" and self.at_s == 0:
            raise ValueError("an attack comes after the connection opened: give it at_s > 0")
        if (self.attack in attack_kinds.SUSTAINED) != (self.rate_pps is not None):
            raise ValueError(f"a sustained attack ({', '.join(attack_kinds.SUSTAINED)}) needs rate_pps "
                             "(packets per second), and only it takes one")
        return self


# "failed" only where failing is what the kernel is known to do (a middlebox
# that makes it hang, blackhole.toml): the scenario says so, and it is counted.
Status = Literal["ok", "fallback", "partial", "stalled", "unsupported", "failed"]


class Expect(_Model):
    """Trial statuses that are this scenario's expected outcome per protocol
    (a middlebox scenario expects MPTCP to fall back).  Anything else makes
    the run exit 1.  A stall is a finding about the kernel, counted and shown
    beside the median, so by default it does not fail the run.  `attack`:
    per protocol, whether the scenario's attack must be refused or accepted
    (bench.record.security judges each trial from the kernel's counters)."""
    tcp: tuple[Status, ...] = ("ok", "stalled")
    mptcp: tuple[Status, ...] = ("ok", "stalled")
    attack: dict[Literal["tcp", "mptcp"], Literal[attack_kinds.VERDICTS]] = {}


def _known(what: str, value: str, known: tuple[str, ...]) -> str:
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")
    return value


# The kernel caps SO_RCVLOWAT at half of the namespace's net.ipv4.tcp_rmem
# max (measured: 40 MiB asked, 16 MiB set, under this machine's 32 MiB; the
# kernel's own default max is at most 6 MiB): 3 MiB is honoured under both.
RECV_LOWAT_MAX_KIB = 3072
NOTSENT_LOWAT_MAX_KIB = 65536
# A key is checked against the running kernel before a run (harness.host.sysctl:
# only per-namespace keys); here only its form and the value's.
SysctlKey = Annotated[str, Field(pattern=f"^{limits.SYSCTL_KEY.pattern}$", max_length=256)]
SysctlValue = Annotated[int | str, AfterValidator(lambda v: _sysctl_value(v))]
Offload = Literal[tuple(limits.OFFLOADS)]


def _sysctl_value(value: int | str) -> int | str:
    if isinstance(value, int) and not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"sysctl value {value} does not fit in 64 bits")
    if isinstance(value, str) and (len(value) > 4096 or
                                   not all(c.isprintable() or c == "\t" for c in value)):
        raise ValueError("a sysctl value is one line of printable text (at most 4096 "
                         "characters)")
    return value


SendMode = Annotated[str, AfterValidator(lambda v: _known("send mode", v, limits.SEND_MODES))]
RecvMode = Annotated[str, AfterValidator(lambda v: _known("receive mode", v, limits.RECV_MODES))]


class Workload(_Model):
    """What flows between client and server.

    bulk           `flows` connections (default one) for duration_s (or one
                   for `bytes`); send_mode and recv_mode choose the engine's
                   system calls; verify makes the receiver check every byte
                   of the seeded pattern.
    rr             `flows` concurrent request/response ping-pongs of
                   request_bytes / response_bytes; every latency recorded.
                   With pace_ms (one flow) a request goes at most every
                   pace_ms: a mostly idle connection, as a chat or a
                   remote shell keeps.
    crr            connect, request, response, close, repeated by each of
                   `flows` concurrent clients.
    rr_under_load  rr alone for half the duration, then beside `load_flows`
                   bulk flows (send_mode/recv_mode apply to them) for the rest.
    hold           the cost of a connection: open `flows` connections as fast
                   as the client can, hold them once every one is accepted
                   (and, MPTCP, joined), measure the kernel memory they hold,
                   the listener's accept rate and the CPU per set-up, close.

    recv_lowat_kib sets SO_RCVLOWAT on the bulk receiver: the kernel wakes it
    only once that much is queued (or at the end), and each call asks for
    max(bufsize_kib, recv_lowat_kib).  Fewer wake-ups and calls per GB, the
    receiver CPU a benchmark tool should not spend; the interval series then
    moves in batches of that size, so keep it well below what a link carries
    per interval.  0: the kernel's default (wake on any byte).

    notsent_lowat_kib sets TCP_NOTSENT_LOWAT on the bulk sender: the kernel
    reports it writable only while less than that is unsent.  On one veth
    path with the batched receiver, 128 KiB removed MPTCP's empty 100 ms
    intervals (docs/engine.md).  0: the kernel's default (the namespace's
    net.ipv4.tcp_notsent_lowat).
    """
    kind: Literal["bulk", "rr", "crr", "rr_under_load", "hold"] = "bulk"
    duration_s: float = Field(5.0, gt=0, le=MAX_DURATION_S)
    bytes: int | None = Field(None, gt=0)
    bufsize_kib: int = Field(128, ge=1, le=16384)
    interval_ms: float = Field(100, ge=10, le=10_000)
    send_mode: SendMode = "send"
    recv_mode: RecvMode = "recv"
    recv_lowat_kib: int = Field(0, ge=0, le=RECV_LOWAT_MAX_KIB)
    notsent_lowat_kib: int = Field(0, ge=0, le=NOTSENT_LOWAT_MAX_KIB)
    verify: bool = False
    seed: int = Field(1, ge=0, lt=1 << 63)
    request_bytes: int = Field(1, ge=1, le=MAX_MESSAGE)
    response_bytes: int = Field(1, ge=1, le=MAX_MESSAGE)
    pace_ms: float = Field(0, ge=0, le=60_000)
    flows: int = Field(1, ge=1, le=limits.MAX_FLOWS)
    load_flows: int = Field(1, ge=1, le=16)

    @model_validator(mode="after")
    def _consistent(self) -> "Workload":
        moves_bulk = self.kind in ("bulk", "rr_under_load")
        if self.kind == "hold" and ("request_bytes" in self.model_fields_set
                                    or "response_bytes" in self.model_fields_set):
            raise ValueError("a hold workload sends no requests; leave request_bytes and "
                             "response_bytes out")
        if self.bytes is not None and self.kind != "bulk":
            raise ValueError(f"`bytes` applies to bulk workloads only, not {self.kind}; "
                             "use duration_s")
        engine_modes = (self.send_mode, self.recv_mode, self.recv_lowat_kib, self.notsent_lowat_kib)
        if not moves_bulk and engine_modes != ("send", "recv", 0, 0):
            raise ValueError(f"send_mode, recv_mode, recv_lowat_kib and notsent_lowat_kib apply "
                             f"to bulk flows; a "
                             f"{self.kind} workload has none, so leave them out")
        if self.verify and (self.recv_mode != "recv" or not moves_bulk):
            raise ValueError("verify needs a bulk flow received with recv_mode = \"recv\" "
                             "(splice and trunc never see the bytes)")
        if self.pace_ms and (self.kind != "rr" or self.flows != 1):
            raise ValueError("pace_ms paces one rr flow (a mostly idle connection): give kind = "
                             "\"rr\" and flows = 1, or leave pace_ms out")
        if self.flows > 1 and self.bytes is not None:
            raise ValueError("a byte budget (`bytes`) is for one flow; give flows > 1 a duration_s")
        return self


class Cpu(_Model):
    """CPU placement of the sender and receiver workers.

    The default is `split` (sender on CPU 0, receiver on CPU 1), because
    placement changes MPTCP's result more than anything else measured here:
      - KERNEL_NOTES: unpinned, 10 of 27 single-path MPTCP runs collapsed to
        ~0.2 Gbit/s (MPTCP-level retransmits only, no TCP loss); with the
        receiver on another CPU than the sender, 0 of 72 stalled, and both
        on the same CPU made it worse;
      - README measurement (8 pairs, unshaped link, 4 s): with both on one
        CPU every MPTCP trial collapsed to ~0.2 Gbit/s while TCP ran at
        25 Gbit/s; split, MPTCP ran at 20 Gbit/s.
    The price is TCP's: split, it sees some reordering and spurious
    retransmits (KERNEL_NOTES), so TCP is not at its single-CPU best.  A
    comparison must hold placement equal for both protocols, which a
    scenario does; the `placement` suite sweeps split, same and none.
    """
    placement: Literal["split", "same", "none"] | None = "split"
    sender: int | None = Field(None, ge=0)
    receiver: int | None = Field(None, ge=0)

    def cpus(self) -> tuple[int | None, int | None]:
        if self.sender is not None or self.receiver is not None:
            return self.sender, self.receiver
        return PLACEMENTS[self.placement or "none"]

    def label(self) -> str:
        s, r = self.cpus()
        return self.placement if self.sender is None and self.receiver is None else f"s{s}/r{r}"


class Scenario(_Model):
    name: str = ""
    description: str
    family: Literal[4, 6] = 4
    links: tuple[Link, ...] = Field(min_length=1, max_length=addressing.MAX_LINKS)
    workload: Workload = Workload()
    mptcp: Mptcp = Mptcp()
    cpu: Cpu = Cpu()
    protocols: tuple[Literal["tcp", "mptcp"], ...] = ("tcp", "mptcp")
    sysctls: dict[SysctlKey, SysctlValue] = {}
    client_sysctls: dict[SysctlKey, SysctlValue] = {}    # the client's namespace only, after
    # `sysctls`: e.g. net.mptcp.enabled = 0 for a client without MPTCP
    # Interface offloads set on every interface of the topology (both ends
    # and the router), e.g. { gro = true }: on veth GRO is off unless turned on.
    offloads: dict[Offload, bool] = {}
    tcp_retry: bool = False    # a client whose MPTCP socket() fails retries with TCP
    server_protocol: Literal["tcp", "mptcp"] | None = None   # None: the trial's protocol
    # Set: the client always uses this protocol and the trial's protocol is
    # the listener's (a server that enabled MPTCP, met by plain-TCP clients).
    client_protocol: Literal["tcp", "mptcp"] | None = None
    protocol_links: ProtocolLinks = ProtocolLinks()
    load: Load | None = None
    middlebox: Middlebox = Middlebox()
    events: tuple[Event, ...] = ()
    expect: Expect = Expect()
    # Who delays packets (docs/delay.md): auto is netem where the kernel has
    # it, else the host delay line; `run --delay-backend` overrides it.
    delay_backend: DelayBackendRequest = "auto"

    @model_validator(mode="after")
    def _one_side_fixed(self) -> "Scenario":
        if self.client_protocol and self.server_protocol:
            raise ValueError("client_protocol makes the trial's protocol the listener's; "
                             "leave server_protocol out")
        return self

    @model_validator(mode="after")
    def _links_exist(self) -> "Scenario":
        used = [("mptcp endpoint", ep.link) for ep in self.mptcp.endpoints or ()]
        used += [("event", ev.link) for ev in self.events]
        used += [("middlebox", i) for i in self.middlebox.links or ()]
        used += [("protocol_links", i) for i in (*self.protocol_links.tcp,
                                                 *(self.protocol_links.mptcp or ()))]
        for what, link in used:
            if link >= len(self.links):
                raise ValueError(f"{what} on link {link}, but the scenario has "
                                 f"{len(self.links)} link(s)")
        if self.events:
            # A timeline needs a trial long enough for it, whatever a suite says.
            if "duration_s" not in self.workload.model_fields_set or self.workload.bytes:
                raise ValueError("a scenario with events must set workload.duration_s")
            late = [e.at_s for e in self.events if e.at_s >= self.workload.duration_s]
            if late:
                raise ValueError(f"event at {late[0]} s falls outside the "
                                 f"{self.workload.duration_s} s trial")
        return self

    @model_validator(mode="after")
    def _attack_judged(self) -> "Scenario":
        attacks = [e for e in self.events if e.action == "attack"]
        if len(attacks) > 1 or len({e.link for e in attacks}) > 1:
            raise ValueError("a scenario has at most one attack")
        if not attacks:
            if self.expect.attack:
                raise ValueError("expect.attack without an attack event")
            return self
        protocols = attack_kinds.KINDS[attacks[0].attack][1]
        odd = [p for p in self.protocols if p not in protocols]
        if odd:
            raise ValueError(f"the attack {attacks[0].attack} applies to {' and '.join(protocols)}, "
                             f"not {', '.join(odd)}: give protocols = {list(protocols)}")
        if set(self.expect.attack) != set(self.protocols):
            raise ValueError(f"an attack scenario says per protocol whether the attack is refused or "
                             f"accepted: give expect.attack for {', '.join(self.protocols)}")
        if self.family != 4:
            raise ValueError("the attacker crafts IPv4 packets only: give family = 4")
        return self

    @model_validator(mode="after")
    def _readdress_told(self) -> "Scenario":
        if self.mptcp.path_manager == "userspace" and any(e.action == "readdress_pm" for e in self.events):
            raise ValueError("readdress_pm moves the in-kernel path manager's endpoint; the userspace "
                             "one (mptcpd) has none: use readdress")
        return self

    @model_validator(mode="after")
    def _buildable(self) -> "Scenario":
        try:
            self.topology()
        except TopologyError as exc:
            raise ValueError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _mptcp_links_once(self) -> "Scenario":
        mptcp = self.protocol_links.mptcp
        if mptcp and len(mptcp) > 1 and self.mptcp.endpoints is not None:
            raise ValueError("MPTCP's further links come from protocol_links.mptcp or from "
                             "mptcp.endpoints, not both: list only its first link there")
        return self

    @model_validator(mode="after")
    def _load_pinned(self) -> "Scenario":
        if self.load and None in self._load_sides():
            raise ValueError(f"a load on the {self.load.cpus} CPU needs that worker pinned: "
                             "give cpu a placement of split or same, or explicit CPUs")
        return self

    def _load_sides(self) -> tuple[int | None, ...]:
        sender, receiver = self.cpu.cpus()
        return {"sender": (sender,), "receiver": (receiver,),
                "both": (sender, receiver)}[self.load.cpus] if self.load else ()

    def load_cpus(self) -> tuple[int, ...]:
        """The CPUs a competing process spins on (one each), none without a load."""
        return tuple(sorted(set(self._load_sides())))

    def links_used(self, protocol: str) -> tuple[int, ...]:
        """The links a protocol's trials use, the one its connection starts on first."""
        if protocol == "tcp":
            return self.protocol_links.tcp
        return self.protocol_links.mptcp or tuple(range(len(self.links)))

    def own_duration(self) -> float | None:
        """The scenario's own trial duration, which a suite does not override."""
        return self.workload.duration_s if "duration_s" in self.workload.model_fields_set else None

    def link_events(self) -> tuple[LinkEvent, ...]:
        return tuple(LinkEvent(**e.model_dump()) for e in self.events)

    def endpoint_sysctls(self) -> dict:
        """The scenario's sysctls for both ends, with a listen backlog and
        SYN queue for every connection of a trial that opens more than
        Linux's default admits at once (set in the trial's own namespaces;
        a value the scenario gives wins)."""
        out = dict(self.sysctls)
        if self.workload.flows > limits.DEFAULT_BACKLOG:
            for key in ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"):
                out.setdefault(key, self.workload.flows)
        return out

    def topology(self, delay_backend: DelayBackend | None = None) -> TopologySpec:
        """The topology to build, its delay backend the one preflight resolved
        the request to (a request other than auto is already resolved)."""
        eps = (tuple(Endpoint("client", i) for i in self.links_used("mptcp")[1:])
               if self.mptcp.endpoints is None
               else tuple(Endpoint(e.side, e.link, e.flags) for e in self.mptcp.endpoints))
        box = self.middlebox.links if self.middlebox.links is not None else tuple(range(len(self.links)))
        strip = box if self.middlebox.strip_mptcp else ()
        return TopologySpec(links=tuple(l.spec() for l in self.links), endpoints=eps,
                            subflows_limit=self.mptcp.subflows_limit,
                            add_addr_accepted_limit=self.mptcp.add_addr_accepted_limit,
                            sysctls=tuple((k, str(v)) for k, v in self.endpoint_sysctls().items()),
                            client_sysctls=tuple((k, str(v))
                                                 for k, v in self.client_sysctls.items()),
                            strip_mptcp_links=strip, families=(self.family,),
                            syn_drops=tuple((i, k) for k in self.middlebox.drop_syn for i in box),
                            offloads=tuple(sorted(self.offloads.items())),
                            path_manager=self.mptcp.path_manager,
                            attacker=attack_kinds.position(e.attack for e in self.events if e.attack),
                            attacker_link=next((e.link for e in self.events if e.attack), 0),
                            delay_backend=delay_backend or (None if self.delay_backend == "auto"
                                                            else self.delay_backend))

    def expected_subflows(self) -> int:
        """Subflows the path manager should establish: the initial one plus
        one per client `subflow` endpoint, within the limit (signal and
        fullmesh set-ups state theirs explicitly)."""
        if self.mptcp.expected_subflows is not None:
            return self.mptcp.expected_subflows
        eps = self.topology().endpoints
        extra = sum(1 for e in eps if e.side == "client" and "subflow" in e.flags)
        return 1 + min(extra, self.mptcp.subflows_limit)

    def trial_params(self, protocol: str, duration_s: float | None = None) -> TrialParams:
        w = self.workload
        sender, receiver = self.cpu.cpus()
        return TrialParams(
            protocol=self.client_protocol or protocol,
            server_protocol=protocol if self.client_protocol else self.server_protocol,
            family=self.family,
            duration_s=0 if w.bytes else (duration_s or w.duration_s),
            max_bytes=w.bytes or 0, bufsize=w.bufsize_kib * 1024, interval_ms=w.interval_ms,
            cpu_sender=sender, cpu_receiver=receiver, link=self.links_used(protocol)[0],
            workload=w.kind, send_mode=w.send_mode, recv_mode=w.recv_mode,
            recv_lowat=w.recv_lowat_kib * 1024, notsent_lowat=w.notsent_lowat_kib * 1024,
            verify=w.verify, seed=w.seed,
            request_bytes=w.request_bytes, response_bytes=w.response_bytes, pace_ms=w.pace_ms,
            flows=w.flows,
            load_flows=w.load_flows, tcp_retry=self.tcp_retry, load_cpus=self.load_cpus())


class ModeSet(_Model):
    """Engine modes: Workload fields that a suite may set on bulk trials
    (bufsize_kib: the size of each send and receive call)."""
    send_mode: SendMode | None = None
    recv_mode: RecvMode | None = None
    recv_lowat_kib: int | None = Field(None, ge=0, le=RECV_LOWAT_MAX_KIB)
    notsent_lowat_kib: int | None = Field(None, ge=0, le=NOTSENT_LOWAT_MAX_KIB)
    bufsize_kib: int | None = Field(None, ge=1, le=16384)


def modes_label(modes: dict) -> str:
    """Modes as a reader sees them, e.g. `recv_lowat_kib=1024 recv_mode=trunc`."""
    return " ".join(f"{k}={v}" for k, v in sorted(modes.items())) or "the workload's own modes"


class DriverModes(ModeSet):
    """Engine modes a suite gives one driver's trials (e.g. the native
    engine's best mode against iperf3's own): Workload fields, applied to a
    bulk workload in place of its own; each trial records its modes.

    With `candidates`, the modes are chosen per scenario and protocol at the
    scenario's start: each candidate (over the fixed fields above) runs
    `calibration_trials` interleaved trials of `calibration_s`, and the one
    with the highest median goodput is used for the measured trials (which
    are new trials: the calibration's own never enter a statistic).  What
    was tried and why one was chosen is recorded in the scenario's entry."""
    candidates: tuple[ModeSet, ...] = Field((), max_length=8)
    calibration_trials: int = Field(3, ge=1, le=20)
    calibration_s: float = Field(2.0, gt=0, le=60)

    def fixed(self) -> dict:
        return self.model_dump(include=set(ModeSet.model_fields), exclude_none=True)


class Suite(_Model):
    name: str = ""
    description: str
    scenarios: tuple[str, ...] = Field(min_length=1)
    repeat: int = Field(5, ge=1, le=MAX_REPEAT)
    min_repeat: int = Field(1, ge=1, le=1000)   # below this, no conclusion is supported
    warmup: int = Field(1, ge=0, le=MAX_WARMUP)
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    drivers: tuple[str, ...] = Field(("native",), min_length=1)   # interleaved per repeat
    durations: dict[str, Annotated[float, Field(gt=0, le=3600)]] = {}   # per scenario, over duration_s
    driver_modes: dict[str, DriverModes] = {}

    @model_validator(mode="after")
    def _enough(self) -> "Suite":
        stray = [n for n in self.durations if n not in self.scenarios]
        if stray:
            raise ValueError(f"durations names {stray[0]!r}, which is not one of the suite's scenarios")
        stray = [d for d in self.driver_modes if d not in self.drivers]
        if stray:
            raise ValueError(f"driver_modes names {stray[0]!r}, which is not one of the suite's drivers")
        if self.repeat < self.min_repeat:
            raise ValueError(f"repeat {self.repeat} is below the suite's min_repeat {self.min_repeat}")
        unknown = [d for d in self.drivers if d not in driver_names()]
        if unknown:
            raise ValueError(f"unknown driver {unknown[0]!r}; available: {', '.join(driver_names())}")
        return self


class Catalog:
    """All scenarios and suites known to a run: built-ins plus user files."""

    def __init__(self, extra_files: list[str | Path] = ()):
        self.scenarios: dict[str, Scenario] = {}
        self.suites: dict[str, Suite] = {}
        self.origin: dict[str, Path] = {}
        files = sorted(p for d in BUILTIN_DIRS for p in d.glob("*.toml"))
        for path in [*files, *map(Path, extra_files)]:
            self._load(path)
        for suite in self.suites.values():
            for name in suite.scenarios:
                if name not in self.scenarios:
                    raise InputError(f"{self.origin['suite:' + suite.name]}: suite {suite.name!r} "
                                     f"names unknown scenario {name!r}; known: "
                                     f"{', '.join(sorted(self.scenarios))}")

    def _load(self, path: Path) -> None:
        data = tomlfile.read(path, "scenario file")
        unknown = set(data) - {"scenario", "suite"}
        if unknown:
            raise InputError(f"{path}: unknown top-level table(s) {', '.join(sorted(unknown))}; "
                             "a definitions file holds [scenario.<name>] and [suite.<name>] tables")
        if not data:
            raise InputError(f"{path}: no [scenario.<name>] or [suite.<name>] table in it")
        for kind, model, store in (("scenario", Scenario, self.scenarios),
                                   ("suite", Suite, self.suites)):
            tables = data.get(kind, {})
            if not isinstance(tables, dict):
                raise InputError(f"{path}: `{kind}` must be a table of [{kind}.<name>] tables")
            for name, table in tables.items():
                names.check(kind, name, f"{path}: ")
                if not isinstance(table, dict):
                    raise InputError(f"{path}: {kind} {name!r} must be a table")
                key = f"{kind}:{name}"
                if key in self.origin:
                    raise InputError(f"{path}: {kind} {name!r} is already defined in "
                                     f"{self.origin[key]}; give it another name")
                store[name] = _validate(model, {**table, "name": name}, path, kind, name)
                self.origin[key] = path

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            raise InputError(f"unknown scenario {name!r}; known: {', '.join(sorted(self.scenarios))}"
                             " (see `python -m bench list`)")
        return self.scenarios[name]

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            raise InputError(f"unknown suite {name!r}; known: {', '.join(sorted(self.suites))}"
                             " (see `python -m bench list`)")
        return self.suites[name]


def _validate(model, table: dict, path: Path, kind: str, name: str):
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        raise InputError(f"{path}: {kind} {name!r}: {tomlfile.sentence(exc)}") from None
