"""A declarative client -- router -- server topology with N parallel links,
built over netlink (pyroute2) and always removed.

    with Topology(spec, prefix="mpb-<run-id>") as topo:
        topo.ns("client"), topo.server_address(4), ...

Entering builds everything; a failure half-way removes what was built and
raises TopologyError.  Leaving removes the namespaces (their veths go with
them) after ending any process still inside them.
"""
from __future__ import annotations

import logging
import socket
import subprocess
from dataclasses import dataclass

from harness import ownership
from harness.errors import TopologyError
from harness.host import netns, sysctl
from harness.net import addressing, delayline, middlebox, mirror, mptcpd, offloads, pathmanager, shaping
from harness.net.spec import LinkSpec, TopologySpec

log = logging.getLogger(__name__)

IFA_F_NODAD = 0x02
ROLES = ("client", "router", "server")
ATTACKER = "attacker"


@dataclass
class Topology:
    spec: TopologySpec
    prefix: str
    delay_line: delayline.DelayLine | None = None
    mptcpd: mptcpd.Mptcpd | None = None

    # ------------------------------------------------------------ naming
    def ns(self, role: str) -> str:
        if role not in self.roles():
            raise ValueError(role)
        return f"{self.prefix}-{role}"

    def roles(self) -> tuple[str, ...]:
        return ROLES + ((ATTACKER,) if self.spec.attacker else ())

    def namespaces(self) -> list[str]:
        return [self.ns(r) for r in self.roles()]

    def attacker_address(self, family: int) -> str:
        return addressing.attacker_subnet(family).host

    def mirrored(self) -> list[str]:
        """The router interfaces whose arriving packets the attacker sees."""
        if self.spec.attacker != "on_path":
            return []
        names = addressing.ifnames(self.spec.attacker_link)
        return [names["router_client"], names["router_server"]]

    def interfaces(self) -> dict[str, list[str]]:
        """{role: its interfaces on the links}, the router's both sides."""
        names = [addressing.ifnames(i) for i in range(len(self.spec.links))]
        return {"client": [n["client"] for n in names],
                "router": [n[k] for n in names for k in ("router_client", "router_server")],
                "server": [n["server"] for n in names]}

    def offloads(self) -> dict[str, dict[str, dict[str, bool]]]:
        """{role: {ifname: {offload: on}}} as the kernel reports them now."""
        return {role: offloads.read(self.ns(role), ifnames)
                for role, ifnames in self.interfaces().items()}

    def client_address(self, family: int, link: int = 0) -> str:
        return addressing.client_subnet(link, family).host

    def server_address(self, family: int, link: int = 0) -> str:
        return addressing.server_subnet(link, family).host

    # --------------------------------------------------------- lifecycle
    def __enter__(self) -> "Topology":
        # Registered as the owner of its namespaces, so that `bench clean`
        # (from another process) never removes a topology in use.
        self._owner = ownership.owning(self.owner)
        self._owner.__enter__()
        try:
            self._build()
        except BaseException as exc:
            self.destroy()
            self._owner.__exit__(None, None, None)
            if isinstance(exc, TopologyError) or not isinstance(exc, Exception):
                raise
            raise TopologyError(f"building the topology failed ({exc}); "
                                "everything built so far was removed") from exc
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.destroy()
        finally:
            self._owner.__exit__(None, None, None)

    @property
    def delay_backend(self) -> str | None:
        """The backend delaying this topology's links; None without delay."""
        return self.spec.delay_backend if self.spec.delayed else None

    @property
    def owner(self) -> str:
        return self.prefix[len(netns.PREFIX) + 1:]

    def destroy(self) -> None:
        """Stop the delay line (its last counters kept in delay_line.final),
        end processes left inside our namespaces, then remove them."""
        try:
            if self.mptcpd is not None:
                self.mptcpd.__exit__(None, None, None)
            if self.delay_line is not None:
                self.delay_line.stop()
        finally:
            netns.destroy([n for n in self.namespaces() if netns.exists(n)])

    def delay_stats(self) -> dict | None:
        """The delay line's cumulative counters (None with netem or no delay)."""
        return self.delay_line.stats() if self.delay_line is not None else None

    # ------------------------------------------------------------- build
    def _build(self) -> None:
        if self.spec.delayed:
            if self.spec.delay_backend is None:
                raise TopologyError("a delayed topology needs its delay backend resolved first "
                                    "(harness.net.capabilities.delay_backend)")
            delayline.check_spec(self.spec.links, self.spec.delay_backend)
        for role in self.roles():
            name = self.ns(role)
            netns.create(name)
            # No duplicate address detection on any address, link-local ones
            # included: neighbour discovery would otherwise wait for it.
            sysctl.write(name, {"net.ipv6.conf.all.accept_dad": 0,
                                "net.ipv6.conf.default.accept_dad": 0,
                                # A "readdress" event removes the primary address: the
                                # spare added before it stays, promoted, not flushed with it.
                                "net.ipv4.conf.all.promote_secondaries": 1,
                                "net.ipv4.conf.default.promote_secondaries": 1})
        # A link event takes the router's interfaces down and up: IPv6 would
        # drop their addresses on the way (IPv4 keeps them).
        sysctl.write(self.ns("router"), {"net.ipv4.ip_forward": 1,
                                         "net.ipv6.conf.all.forwarding": 1,
                                         "net.ipv6.conf.all.keep_addr_on_down": 1,
                                         "net.ipv6.conf.default.keep_addr_on_down": 1})
        endpoint_sysctls = {"net.mptcp.enabled": 1, **dict(self.spec.sysctls)}
        for role in ("client", "server"):
            sysctl.write(self.ns(role), endpoint_sysctls)
        sysctl.write(self.ns("client"), dict(self.spec.client_sysctls))
        with netns.iproute(self.ns("client")) as cli, \
                netns.iproute(self.ns("router")) as rtr, \
                netns.iproute(self.ns("server")) as srv:
            for ipr in (cli, rtr, srv):
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            for i, link in enumerate(self.spec.links):
                self._build_link(i, link, cli, rtr, srv)
            self._route(cli, rtr, srv)
            if self.spec.attacker:
                self._build_attacker(rtr, srv)
        for role, ifnames in self.interfaces().items():
            offloads.apply(self.ns(role), ifnames, dict(self.spec.offloads))
        self._apply_loss()
        if self.delay_backend == "host":
            self._start_delay_line()
        if self.spec.strip_mptcp_links or self.spec.syn_drops:
            middlebox.install(self.ns("router"), self.spec.strip_mptcp_links, self.spec.syn_drops)
        self._configure_pm()

    def _veth(self, ipr, name: str, peer_ns: str, peer: str, mtu: int) -> None:
        with netns.opened(peer_ns) as fd:
            ipr.link("add", ifname=name, kind="veth", mtu=mtu,
                     peer={"ifname": peer, "net_ns_fd": fd, "mtu": mtu})
        log.info("created veth %s <-> %s in %s (mtu %d)", name, peer, peer_ns, mtu)

    def _build_link(self, i: int, link: LinkSpec, cli, rtr, srv) -> None:
        names = addressing.ifnames(i)
        self._veth(cli, names["client"], self.ns("router"), names["router_client"], link.mtu)
        self._veth(srv, names["server"], self.ns("router"), names["router_server"], link.mtu)
        sides = ((cli, names["client"], addressing.client_subnet, "host"),
                 (rtr, names["router_client"], addressing.client_subnet, "router"),
                 (rtr, names["router_server"], addressing.server_subnet, "router"),
                 (srv, names["server"], addressing.server_subnet, "host"))
        for ipr, ifname, subnet_of, which in sides:
            index = ipr.link_lookup(ifname=ifname)[0]
            for family in self.spec.families:
                subnet = subnet_of(i, family)
                add_address(ipr, index, getattr(subnet, which), subnet.prefixlen, family)
            ipr.link("set", index=index, state="up")
        for way, role in addressing.ROUTER_EGRESS.items():
            shaping.install_qdiscs(rtr, rtr.link_lookup(ifname=names[role])[0], link.direction(way),
                                   netem=self.delay_backend == "netem")

    def _build_attacker(self, rtr, srv) -> None:
        """The attacker's namespace on the router: a veth, a subnet inside
        the servers' aggregate (routed from every link's table, so the
        client follows an address the attacker announces), the server's
        route back, and on-path the mirror of one link.  Its kernel sends
        no RST of its own: the attacker completes handshakes it crafts."""
        names = addressing.ATTACKER_IFNAMES
        ns = self.ns(ATTACKER)
        # Forged sources come in by the attacker's interface: no reverse-path
        # check (the interface made next takes the default).
        sysctl.write(self.ns("router"), {"net.ipv4.conf.all.rp_filter": 0,
                                         "net.ipv4.conf.default.rp_filter": 0})
        self._veth(rtr, names["router"], ns, names["attacker"], 1500)
        s_if = srv.link_lookup(ifname=addressing.ifnames(0)["server"])[0]
        with netns.iproute(ns) as att:
            att.link("set", index=att.link_lookup(ifname="lo")[0], state="up")
            a_if = att.link_lookup(ifname=names["attacker"])[0]
            r_if = rtr.link_lookup(ifname=names["router"])[0]
            for family in self.spec.families:
                sub = addressing.attacker_subnet(family)
                add_address(att, a_if, sub.host, sub.prefixlen, family)
                add_address(rtr, r_if, sub.router, sub.prefixlen, family)
            att.link("set", index=a_if, state="up")
            rtr.link("set", index=r_if, state="up")
            for family in self.spec.families:
                af = socket.AF_INET if family == 4 else socket.AF_INET6
                sub = addressing.attacker_subnet(family)
                for i in range(len(self.spec.links)):
                    rtr.route("add", family=af, dst=sub.network, oif=r_if,
                              table=addressing.TABLE_BASE + i)
                srv.route("add", family=af, dst=sub.network,
                          gateway=addressing.server_subnet(0, family).router, oif=s_if)
                att.route("add", family=af, dst="default" if family == 4 else "::/0",
                          gateway=sub.router)
            if 4 in self.spec.families:
                srv.route("add", dst=addressing.FLOOD_SOURCES, oif=s_if,
                          gateway=addressing.server_subnet(0, 4).router)
                rtr.route("add", dst=addressing.FLOOD_SOURCES, type="blackhole")
        rules = "\n".join(f"    {ip} saddr {addressing.attacker_subnet(f).host} tcp flags & rst == rst drop"
                           for f, ip in ((4, "ip"), (6, "ip6")) if f in self.spec.families)
        netns.run(ns, ["nft", "-f", "-"], input="table inet mpb_attacker {\n  chain output {\n"
                  "    type filter hook output priority 0; policy accept;\n" + rules + "\n  }\n}\n")
        if self.mirrored():
            mirror.install(rtr, self.mirrored(), names["router"])
        log.info("built the %s attacker in %s", self.spec.attacker, ns)

    def _start_delay_line(self) -> None:
        queues = [delayline.Queue(delayline.queue_number(i, way), addressing.ifnames(i)[role], d.delay_ms,
                                  d.jitter_ms, d.reorder, d.distribution)
                  for i, link in enumerate(self.spec.links)
                  for way, role in addressing.ROUTER_EGRESS.items()
                  if (d := link.direction(way)).delayed]
        self.delay_line = delayline.DelayLine(self.ns("router"), queues, self.spec.families)
        self.delay_line.__enter__()

    def _route(self, cli, rtr, srv) -> None:
        """Link i's client address reaches the server over link i only.

        client: source-based rule per link; the main table's route uses link 0.
        router: ingress-based rule per link sends traffic on to the same link.
        server: destination routes back over the link the client address is on.
        """
        for family in self.spec.families:
            af = socket.AF_INET if family == 4 else socket.AF_INET6
            servers = addressing.server_aggregate(family)
            for i in range(len(self.spec.links)):
                names, table = addressing.ifnames(i), addressing.TABLE_BASE + i
                csub, ssub = addressing.client_subnet(i, family), addressing.server_subnet(i, family)
                c_if = cli.link_lookup(ifname=names["client"])[0]
                s_if = srv.link_lookup(ifname=names["server"])[0]
                if i == 0:
                    cli.route("add", family=af, dst=servers, gateway=csub.router, oif=c_if)
                cli.route("add", family=af, dst=servers, gateway=csub.router, oif=c_if, table=table)
                for src in (csub.host, csub.spare):     # the spare: a "readdress" event's
                    cli.rule("add", family=af, src=src, src_len=32 if family == 4 else 128,
                             table=table, priority=table)
                self._router_route(rtr, i, family, "add")
                rtr.rule("add", family=af, iifname=names["router_client"], table=table,
                         priority=table)
                srv.route("add", family=af, dst=csub.network, gateway=ssub.router, oif=s_if)

    def _router_route(self, rtr, link: int, family: int, op: str) -> None:
        """The router's route on to the servers over `link` (its own table)."""
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        rs_if = rtr.link_lookup(ifname=addressing.ifnames(link)["router_server"])[0]
        rtr.route(op, family=af, dst=addressing.server_aggregate(family),
                  gateway=addressing.server_subnet(link, family).host, oif=rs_if,
                  table=addressing.TABLE_BASE + link)

    def reroute(self, link: int, rtr) -> None:
        """Put back the router's route over `link`: the kernel deletes a
        route when its interface goes down, and does not restore it when
        the interface comes back up (a link event's "up")."""
        for family in self.spec.families:
            self._router_route(rtr, link, family, "replace")

    def _apply_loss(self) -> None:
        drops = []
        for i, link in enumerate(self.spec.links):
            names = addressing.ifnames(i)
            for way, role in addressing.ROUTER_INGRESS.items():
                pct = link.direction(way).loss_pct
                if pct > 0:
                    drops.append((names[role], pct))
        if drops:
            netns.run(self.ns("router"), ["nft", "-f", "-"], input=shaping.loss_ruleset(drops))
            log.info("added nftables loss rules in %s: %s", self.ns("router"),
                     ", ".join(f"{iface} {pct:g}%" for iface, pct in drops))

    def endpoints(self, side: str) -> list[tuple[str, int, tuple[str, ...]]]:
        """The spec's path-manager endpoints of one side: (address, ifindex, flags)."""
        eps = []
        with netns.iproute(self.ns(side)) as ipr:
            for ep in self.spec.endpoints:
                if ep.side != side:
                    continue
                index = ipr.link_lookup(ifname=addressing.ifnames(ep.link)[side])[0]
                for family in self.spec.families:
                    sub = (addressing.client_subnet if side == "client" else addressing.server_subnet)(
                        ep.link, family)
                    eps.append((sub.host, index, ep.flags))
        return eps

    def _configure_pm(self) -> None:
        """The in-kernel PM's limits and endpoints on both ends; with the
        userspace PM, the client's endpoints go to mptcpd instead."""
        userspace = self.spec.path_manager == "userspace"
        for side in ("client", "server"):
            eps = self.endpoints(side)
            if userspace and side == "client":
                self.mptcpd = mptcpd.Mptcpd(self.ns(side), [a for a, _, f in eps if "subflow" in f],
                                            [a for a, _, f in eps if "backup" in f])
                self.mptcpd.__enter__()
                continue
            pathmanager.configure(self.ns(side), self.spec.subflows_limit,
                                  self.spec.add_addr_accepted_limit, eps)

    # ---------------------------------------------------------- read back
    def read_back(self) -> dict:
        """The topology as the kernel reports it (not as intended)."""
        out: dict = {"namespaces": self.namespaces(), "qdiscs": {}, "path_manager": {}}
        with netns.iproute(self.ns("router")) as rtr:
            names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in rtr.get_links()}
            for msg in rtr.get_qdiscs():
                ifname = names.get(msg["index"], str(msg["index"]))
                if ifname.startswith(("rc", "rs")):
                    out["qdiscs"].setdefault(ifname, []).append(shaping.describe_qdisc(msg))
        try:
            out["nftables"] = netns.run(self.ns("router"), ["nft", "list", "ruleset"])
        except (OSError, subprocess.CalledProcessError) as exc:  # recorded, not fatal
            out["nftables"] = f"unavailable: {exc}"
        try:
            out["iptables"] = middlebox.read_back(self.ns("router"))
        except (OSError, subprocess.CalledProcessError) as exc:
            out["iptables"] = f"unavailable: {exc}"
        for side in ("client", "server"):
            out["path_manager"][side] = pathmanager.read_back(self.ns(side))
        out["path_manager"]["client"]["mode"] = self.spec.path_manager
        if self.mptcpd is not None:
            out["path_manager"]["client"]["mptcpd"] = self.mptcpd.config()
        out["offloads"] = self.offloads()
        if self.spec.attacker:
            with netns.iproute(self.ns("router")) as rtr:
                out["attacker"] = {"kind": self.spec.attacker, "link": self.spec.attacker_link,
                                   "mirrored": mirror.read_back(rtr, self.mirrored())}
        return out


def add_address(ipr, index: int, address: str, prefixlen: int, family: int) -> None:
    if family == 6:
        # No duplicate address detection: the address is usable at once
        # instead of "tentative" for a second or two.
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen,
                 family=socket.AF_INET6, flags=IFA_F_NODAD)
    else:
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
