"""The SYN flood against a real listener: a scratch namespace, a veth pair
in it, a listener on one end, SYNs from the other; the namespace's own
counters say what arrived."""
import socket
import subprocess

import onetrial

from harness.attack import flood
from harness.host import netns
from harness.host.sockinfo import IPPROTO_MPTCP
from harness.measure import mib

LISTEN, PEER, PORT, SOURCES = "198.18.0.1", "198.18.0.2", 8080, "198.18.128.0/18"


def test_a_flood_reaches_the_listener_at_the_rate():
    ns = onetrial.prefix("flood")
    netns.create(ns)
    try:
        for cmd in ("link add v0 type veth peer name v1", f"addr add {LISTEN}/30 dev v0",
                    f"addr add {PEER}/30 dev v1", "link set lo up", "link set v0 up", "link set v1 up",
                    # The SYN/ACKs to the spoofed sources: to one neighbour (v1, which
                    # does not forward them), not to 2000 ARP entries on the host's table.
                    f"route add {SOURCES} via {PEER} dev v0"):
            subprocess.run(["ip", "-n", ns, *cmd.split()], check=True)
        listener = netns.call_in(ns, socket.socket, socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        with listener:
            listener.bind((LISTEN, PORT))
            listener.listen(128)
            before = mib.snapshot(ns)
            res = netns.call_in(ns, flood.flood, LISTEN, PORT, SOURCES, 2000, 1.0, True)
            after = mib.snapshot(ns)
    finally:
        netns.remove(ns)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    assert abs(res["sent"] - 2000) <= 200 and res["errors"] == 0, res
    # Exact: nothing but the flood sends TCP into this namespace (the SYN/ACKs
    # leave it by v0 and die on v1, unforwarded), so TCP received exactly the
    # SYNs sent, the kernel verified their checksums (InCsumErrors), and its
    # MPTCP parsed an MP_CAPABLE in each.
    assert delta["TcpInSegs"] == res["sent"], delta
    assert delta["TcpInCsumErrors"] == 0 and delta["IpInHdrErrors"] == 0
    assert delta["MPTcpExtMPCapableSYNRX"] == res["sent"]
    # Each SYN was answered: by a request socket while the backlog (128) had
    # room, then by a syncookie (on by default); none dropped.  OutSegs also
    # counts SYN/ACK retransmissions (the first come 1 s in), hence >=.
    assert delta["TcpExtListenDrops"] == 0 and delta["TcpExtTCPReqQFullDrop"] == 0
    assert delta["TcpExtSyncookiesSent"] > 0
    assert delta["TcpOutSegs"] >= res["sent"]
