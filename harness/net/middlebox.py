"""Middleboxes on the router: what real networks do to MPTCP.

strip_mptcp removes TCP option 30 (MPTCP) from every forwarded segment,
as some firewalls do; RFC 8684 requires a clean fallback to TCP.
A SYN drop is the blackhole: a firewall that drops the client's SYNs
carrying MP_CAPABLE (or MP_JOIN) instead of stripping the option, which
the kernel (6.12 on) meets with `syn_retrans_before_tcp_fallback` and
`blackhole_timeout` (docs/scenarios.md, "Blackholes").
"""
from __future__ import annotations

import logging
import re

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


# RFC 8684 subtypes, as numbers: nftables 1.0.6 (Debian 12) has no names for them.
SYN_SUBTYPES = {"mp_capable": 0, "mp_join": 1}
SYN_DROP_TABLE = "mpb_middlebox"


def syn_drop_ruleset(drops: tuple[tuple[int, str], ...]) -> str:
    """An nftables ruleset dropping, per (link, kind), the client's SYNs
    (not SYN-ACKs) that carry that MPTCP subtype, counted."""
    rules = []
    for link, kind in drops:
        iface = addressing.ifnames(link)["router_client"]
        rules.append(f'    iifname "{iface}" tcp flags & (syn | ack) == syn '
                     f"tcp option mptcp subtype {SYN_SUBTYPES[kind]} counter drop")
    return "\n".join([f"table inet {SYN_DROP_TABLE} {{", "  chain forward {",
                      "    type filter hook forward priority 0; policy accept;",
                      *rules, "  }", "}", ""])


def strip(ns: str, link: int, on: bool = True) -> None:
    """Start (or stop) stripping the MPTCP option on one link: a middlebox
    that appears under a live connection (a link event)."""
    for argv in strip_mptcp_rules((link,)):
        if not on:
            argv = [a if a != "-A" else "-D" for a in argv]
        netns.run(ns, argv)
    log.info("%s stripping MPTCP options on link %d in %s", "started" if on else "stopped", link, ns)


ALTER_TABLE = "mpb_alter"
ALTER_VALUE = 0xDEADBEEF


def alter_ruleset(link: int, count: int) -> str:
    """An nftables ruleset that overwrites the first 4 payload bytes of the
    first `count` client-to-server segments carrying data on `link` (a
    shared limit; the payload starts at the TCP header's doff, so one rule
    per header length), fixing the TCP checksum as a middlebox would."""
    iface = addressing.ifnames(link)["router_client"]
    rules = [f'    iifname "{iface}" ip protocol tcp tcp doff {doff} ip length > {20 + doff * 4 + 4} '
             f'limit name "once" counter @th,{doff * 32},32 set {ALTER_VALUE:#x}'
             for doff in range(5, 16)]
    return "\n".join([f"table ip {ALTER_TABLE} {{",
                      f"  limit once {{ rate 1/hour burst {count} packets }}",
                      "  chain forward {", "    type filter hook forward priority 0; policy accept;",
                      *rules, "  }", "}", ""])


def alter(ns: str, link: int, count: int) -> None:
    """Start rewriting payload on one link (an attack by the router)."""
    netns.run(ns, ["nft", "-f", "-"], input=alter_ruleset(link, count))
    log.info("rewriting the payload of %d segment(s) on link %d in %s", count, link, ns)


def altered(ns: str) -> int:
    """Segments rewritten so far (the rules' counters), then the rules removed."""
    out = netns.run(ns, ["nft", "list", "table", "ip", ALTER_TABLE])
    netns.run(ns, ["nft", "delete", "table", "ip", ALTER_TABLE])
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


def install(ns: str, strip_links: tuple[int, ...], syn_drops: tuple[tuple[int, str], ...] = ()) -> None:
    for argv in strip_mptcp_rules(strip_links):
        netns.run(ns, argv)
        log.info("added rule in %s: %s", ns, " ".join(argv))
    if syn_drops:
        netns.run(ns, ["nft", "-f", "-"], input=syn_drop_ruleset(syn_drops))
        log.info("added SYN drops in %s: %s", ns, ", ".join(f"{k} on link {l}" for l, k in syn_drops))


def read_back(ns: str) -> str:
    return "".join(netns.run(ns, [tool]) for tool in ("iptables-save", "ip6tables-save"))
