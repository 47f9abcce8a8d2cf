"""Changing a running topology's links — a path going down, coming back,
its rate collapsing — and putting them back as the spec says.

Changes happen on the router (the network), not on an endpoint: the
endpoints' interfaces stay up, so a path that stops carrying traffic is
noticed by the transport (timeouts), as with a real failure upstream.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace

from pyroute2.netlink.exceptions import NetlinkError

from harness.host import netns
from harness.net import addressing, pathmanager, shaping


def _router_ifaces(link: int, direction: str) -> list[tuple[str, str]]:
    names = addressing.ifnames(link)
    ways = ("up", "down") if direction == "both" else (direction,)
    return [(way, names[addressing.ROUTER_EGRESS[way]]) for way in ways]


def set_state(topo, link: int, up: bool) -> None:
    """Both router interfaces of the link down (or up again, with the
    router's route over it, which the kernel deleted when it went down)."""
    with netns.iproute(topo.ns("router")) as ipr:
        for _, ifname in _router_ifaces(link, "both"):
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up" if up else "down")
        if up:
            topo.reroute(link, ipr)


def _forget_neighbours(ns: str, ifname: str) -> None:
    with netns.iproute(ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        for msg in ipr.neigh("dump", ifindex=index):
            dst = msg.get_attr("NDA_DST")
            if dst:
                with contextlib.suppress(NetlinkError):   # gone meanwhile
                    ipr.neigh("del", ifindex=index, dst=dst)


def _reinstall(topo, ipr, index: int, direction: shaping.Direction) -> None:
    try:
        ipr.tc("del", index=index, root=True)
    except NetlinkError:
        pass  # no root qdisc: the link was unshaped
    shaping.install_qdiscs(ipr, index, direction, netem=topo.delay_backend == "netem")


def set_rate(topo, link: int, rate_mbit: float, direction: str = "both") -> None:
    spec = topo.spec.links[link]
    with netns.iproute(topo.ns("router")) as ipr:
        for way, ifname in _router_ifaces(link, direction):
            changed = replace(spec.direction(way), rate_mbit=rate_mbit)
            _reinstall(topo, ipr, ipr.link_lookup(ifname=ifname)[0], changed)


def readdress(topo, link: int, tell_pm: bool) -> None:
    """The client's address on the link swapped for its spare (or back), the
    interface up throughout, as when a DHCP renewal hands out another
    address. With `tell_pm` the in-kernel PM's endpoint follows the address
    (what an address daemon such as mptcpd's addr_adv does); without, the PM
    keeps the old one."""
    from harness.net.topology import add_address
    ns, ifname = topo.ns("client"), addressing.ifnames(link)["client"]
    flags = next((ep.flags for ep in topo.spec.endpoints if ep.side == "client" and ep.link == link),
                 ("subflow",))
    with netns.iproute(ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
        for family in topo.spec.families:
            sub = addressing.client_subnet(link, family)
            old, new = (sub.host, sub.spare) if sub.host in have else (sub.spare, sub.host)
            # The new one first: the last address of a subnet leaving takes its routes along.
            add_address(ipr, index, new, sub.prefixlen, family)
            ipr.addr("del", index=index, address=old, prefixlen=sub.prefixlen)
            if tell_pm:
                pathmanager.replace_address(ns, old, new, index, flags)


def _readdressed(topo, link: int) -> bool:
    with netns.iproute(topo.ns("client")) as ipr:
        index = ipr.link_lookup(ifname=addressing.ifnames(link)["client"])[0]
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
    return any(addressing.client_subnet(link, f).spare in have for f in topo.spec.families)


def restore(topo, link: int) -> None:
    """The link as its spec says: up, with its own qdiscs, the client on its
    own address and the path manager's endpoints as configured."""
    spec = topo.spec.links[link]
    set_state(topo, link, True)
    if _readdressed(topo, link):
        readdress(topo, link, tell_pm=False)
        if topo.spec.path_manager == "kernel":
            pathmanager.reset(topo.ns("client"), topo.spec.subflows_limit,
                              topo.spec.add_addr_accepted_limit, topo.endpoints("client"))
    # Between trials, the endpoints forget their neighbour entries over the
    # link: one that failed while it was down answered the next trial's
    # connect() with EHOSTUNREACH (2026-12-06). Not at an "up" event: there
    # it would fail a join whose SYN waits on that entry (handover-mbb).
    names = addressing.ifnames(link)
    for role in ("client", "server"):
        _forget_neighbours(topo.ns(role), names[role])
    with netns.iproute(topo.ns("router")) as ipr:
        for way, ifname in _router_ifaces(link, "both"):
            _reinstall(topo, ipr, ipr.link_lookup(ifname=ifname)[0], spec.direction(way))
