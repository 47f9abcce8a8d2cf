"""Middleboxes on the router: what real networks do to MPTCP.

strip_mptcp removes TCP option 30 (MPTCP) from every forwarded segment,
as some firewalls do; RFC 8684 requires a clean fallback to TCP.
"""
from __future__ import annotations

import logging

from harness.host import netns
from harness.net import addressing

log = logging.getLogger(__name__)

MPTCP_OPTION = 30


def strip_mptcp_rules(links: tuple[int, ...]) -> list[list[str]]:
    """iptables/ip6tables argv lists (mangle FORWARD, both directions)."""
    rules = []
    for tool in ("iptables", "ip6tables"):
        for link in links:
            names = addressing.ifnames(link)
            for iface in (names["router_client"], names["router_server"]):
                rules.append([tool, "-t", "mangle", "-A", "FORWARD", "-i", iface, "-p", "tcp",
                              "-j", "TCPOPTSTRIP", "--strip-options", str(MPTCP_OPTION)])
    return rules


def install(ns: str, strip_links: tuple[int, ...]) -> None:
    for argv in strip_mptcp_rules(strip_links):
        netns.run(ns, argv)
        log.info("added rule in %s: %s", ns, " ".join(argv))


def read_back(ns: str) -> str:
    return "".join(netns.run(ns, [tool]) for tool in ("iptables-save", "ip6tables-save"))
