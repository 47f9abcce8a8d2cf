"""How long a connection of a path-manager timeline (harness.net.pmevents)
took to add its further subflows.  Pure, so the results side can use it
without the system side (pmevents opens netlink sockets in namespaces,
through the compiled engine)."""
from __future__ import annotations


def connection_join_delays(conn: dict) -> list[float]:
    """ms from a connection's establishment to each of its further subflows'
    (in the timeline's order; unrounded).  A subflow that never established
    (a failed join) has none, nor has a connection never established."""
    if conn["established_s"] is None:
        return []
    return [(s["established_s"] - conn["established_s"]) * 1000
            for s in conn["subflows"] if s["established_s"] is not None]
