"""Path-manager events of a real namespace: a connection, its join (by the
in-kernel PM, or by the userspace PM through mptcpd), its close."""
import os
import socket
import threading
import time

import pytest
from onetrial import prefix

from harness.host import netns
from harness.host.sockinfo import IPPROTO_MPTCP
from harness.net.pmevents import Monitor, join_delays, timeline
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology


def _wait(cond, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _drain(lsock: socket.socket) -> None:
    conn, _ = lsock.accept()
    while conn.recv(65536):
        pass
    conn.close()


@pytest.mark.parametrize("manager", ["kernel", "userspace"])
def test_the_client_sees_its_connection_its_join_and_its_close(manager):
    spec = TopologySpec(links=(LinkSpec(), LinkSpec()), endpoints=TopologySpec.default_endpoints(2),
                        path_manager=manager)
    fds = len(os.listdir("/proc/self/fd"))
    with Topology(spec, prefix("pm")) as topo:
        daemon = topo.mptcpd.proc.pid if topo.mptcpd else None
        with Monitor(topo.ns("client")) as mon:
            t0 = time.monotonic()
            server = topo.server_address(4, 0)
            lsock = netns.call_in(topo.ns("server"), socket.socket,
                                  socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
            lsock.bind((server, 0))
            lsock.listen(1)
            sink = threading.Thread(target=_drain, args=(lsock,))
            sink.start()
            c = netns.call_in(topo.ns("client"), socket.socket,
                              socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
            c.settimeout(10)
            c.connect((server, lsock.getsockname()[1]))
            c.sendall(b"x" * 100_000)
            assert _wait(lambda: any(e["event"] == "sub_established" for e in mon.events()))
            c.close()
            sink.join()
            lsock.close()
            assert _wait(lambda: any(e["event"] == "closed" for e in mon.events()))
            t1 = time.monotonic()
        events, lost = mon.events(), mon.lost()
        names = topo.namespaces()
    assert not any(netns.exists(n) for n in names)
    assert (daemon is not None) == (manager == "userspace")
    assert daemon is None or not os.path.exists(f"/proc/{daemon}")
    assert len(os.listdir("/proc/self/fd")) == fds
    assert not [t for t in threading.enumerate() if t.name.startswith("pmevents:")]

    assert lost == 0
    assert all(t0 <= e["t"] <= t1 for e in events)
    kinds = [e["event"] for e in events if e["event"] != "sub_closed"]
    assert kinds == ["created", "established", "sub_established", "closed"]
    created, _, joined, closed = (e for e in events if e["event"] != "sub_closed")
    assert (created["family"], created["saddr"], created["daddr"]) == (4, topo.client_address(4, 0), server)
    assert joined["saddr"] == topo.client_address(4, 1) and joined["loc_id"] > 0
    assert joined["dport"] == created["dport"] and joined["token"] == created["token"] == closed["token"]

    tl = timeline(events, t0)
    assert tl["connections_seen"] == 1
    (conn,) = tl["connections"]
    assert conn["token"] == created["token"] and conn["closed_s"] is not None
    (sub,) = conn["subflows"]
    assert sub["local"].startswith(topo.client_address(4, 1) + ":")
    (delay,) = join_delays(tl)
    assert delay >= 0


def test_a_namespace_that_does_not_exist_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="network namespace mpb-test-none does not exist"):
        with Monitor("mpb-test-none"):
            pass
