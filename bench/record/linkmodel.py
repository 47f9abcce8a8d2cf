"""What physics allows: the goodput limit of a scenario from its link model.

A shaper (tbf) counts whole frames, Ethernet header included, so the
application sees rate x payload share, where the share is the segment
payload over the frame size.  Every data segment carries TCP timestamps
(12 bytes); an MPTCP one also carries a DSS option, 22 bytes padded to 24
(observed on 6.18: 1424 payload bytes in a 1500-byte IPv4 packet, against
1448 for TCP).  Loss and delay are not modelled: with them the figure is
an upper bound, and is labelled so.
"""
from __future__ import annotations

ETH_HEADER = 14
IP_HEADER = {4: 20, 6: 40}
TCP_HEADER_WITH_TIMESTAMPS = 32
MPTCP_DSS = 24


def payload_share(protocol: str, family: int, mtu: int = 1500) -> float:
    payload = mtu - IP_HEADER[family] - TCP_HEADER_WITH_TIMESTAMPS
    if protocol == "mptcp":
        payload -= MPTCP_DSS
    return payload / (mtu + ETH_HEADER)


def links_carrying(scenario, protocol: str) -> list[int]:
    """Links that carry data: the one the protocol's connection starts on
    (link 0 unless the scenario's protocol_links say otherwise); MPTCP adds
    each link with a client `subflow` endpoint that is not a backup, within
    the subflow limit."""
    first = scenario.links_used(protocol)[0]
    if protocol == "tcp":
        return [first]
    topo = scenario.topology()
    extra = sorted({e.link for e in topo.endpoints if e.side == "client"
                    and "subflow" in e.flags and "backup" not in e.flags and e.link != first})
    return [first, *extra[:topo.subflows_limit]]


def goodput_limit_bps(scenario, protocol: str) -> float | None:
    """Client-to-server goodput limit over the links that carry data: their
    shaped rate, or on a real path nobody shapes the rate its survey
    measured (bench/hosts/survey.py).  None when one of them has neither
    (the CPU is then the bottleneck, which no model predicts)."""
    links = scenario.topology().links
    total = 0.0
    for i in links_carrying(scenario, protocol):
        rate = links[i].rate_up_mbit or scenario.links[i].surveyed_mbit
        if rate is None:
            return None
        total += rate * 1e6 * payload_share(protocol, scenario.family, links[i].mtu)
    return total


def is_upper_bound(scenario) -> bool:
    """True when loss or delay make the limit an optimistic bound."""
    return any(l.loss_up_pct or l.delay_ms or l.jitter_ms for l in scenario.topology().links)
