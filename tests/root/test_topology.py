"""Real namespaces: build, route, shape, read back, and remove."""
import json
import signal
import socket
import subprocess
import threading
import time

import pytest
from benchcli import bench
from onetrial import prefix

from harness.errors import TopologyError
from harness.host import netns, sockinfo
from harness.net import linkctl
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology


def test_two_link_topology_comes_up_and_goes_away_completely():
    spec = TopologySpec(links=(LinkSpec(rate_up_mbit=50, rate_down_mbit=20),) * 2,
                        endpoints=TopologySpec.default_endpoints(2))
    with Topology(spec, prefix("up")) as topo:
        names = topo.namespaces()
        assert all(netns.exists(n) for n in names)
        rb = topo.read_back()
        # Shaping is on the router's egress, in both directions, never on an endpoint.
        assert {q["kind"] for qs in rb["qdiscs"].values() for q in qs} == {"tbf"}
        assert rb["qdiscs"]["rs0"][0]["rate_bps"] == 50_000_000
        assert rb["qdiscs"]["rc1"][0]["rate_bps"] == 20_000_000
        eps = rb["path_manager"]["client"]["endpoints"]
        assert {e["address"] for e in eps} == {"198.18.1.1", "2001:2:0:101::1"}
        assert all(e["flags"] == ["subflow"] for e in eps)
        assert rb["path_manager"]["server"]["limits"]["subflows"] == 8
        # A process left inside a namespace is ended with it.
        stray = subprocess.Popen(netns.command(names[0], ["sleep", "60"]))
        deadline = time.monotonic() + 5
        while stray.pid not in netns.pids_in(names) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stray.pid in netns.pids_in(names)
    # The teardown's behaviour, not its speed (a loaded machine decides that):
    # the namespaces are gone and the stray was ended by SIGTERM, not left.
    assert not any(netns.exists(n) for n in names)
    assert stray.wait(timeout=1) == -signal.SIGTERM    # ended by the teardown
    assert not netns.pids_in(names)


def _rx_bytes(topo, ifname: str, key: str = "rx_bytes") -> int:
    with netns.iproute(topo.ns("router")) as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
        return link.get_attr("IFLA_STATS64")[key]


@pytest.mark.parametrize("family", [4, 6])
def test_each_client_address_reaches_the_server_over_its_own_link_only(family):
    spec = TopologySpec(links=(LinkSpec(),) * 3)
    with Topology(spec, prefix(f"route{family}")) as topo:
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        server = topo.server_address(family, 0)
        lsock = netns.call_in(topo.ns("server"), socket.socket, af, socket.SOCK_STREAM)
        lsock.bind((server, 0))
        lsock.listen(4)
        port = lsock.getsockname()[1]
        for link in range(3):
            before = {i: _rx_bytes(topo, f"rc{i}") for i in range(3)}
            sink = threading.Thread(target=lambda: _drain(lsock))
            sink.start()
            c = netns.call_in(topo.ns("client"), socket.socket, af, socket.SOCK_STREAM)
            c.bind((topo.client_address(family, link), 0))
            c.connect((server, port))
            c.sendall(b"x" * 1_000_000)
            c.close()
            sink.join()
            grew = {i: _rx_bytes(topo, f"rc{i}") - before[i] for i in range(3)}
            assert grew[link] > 1_000_000
            assert all(grew[i] < 10_000 for i in grew if i != link), grew
        lsock.close()


@pytest.mark.parametrize("family", [4, 6])
def test_a_link_that_went_down_and_up_carries_its_own_traffic_again(family):
    """The kernel deletes the router's route over a link whose interface
    goes down and does not put it back when it comes up: link 1's traffic
    then left by link 0's server side (2026-12-06, handover-mbb), until
    the "up" event put the route back."""
    spec = TopologySpec(links=(LinkSpec(),) * 2, families=(family,))
    with Topology(spec, prefix(f"bounce{family}")) as topo:
        linkctl.set_state(topo, 1, False)
        linkctl.set_state(topo, 1, True)
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        lsock = netns.call_in(topo.ns("server"), socket.socket, af, socket.SOCK_STREAM)
        lsock.bind((topo.server_address(family, 0), 0))
        lsock.listen(1)
        before = {i: _rx_bytes(topo, f"rs{i}", "tx_bytes") for i in range(2)}
        sink = threading.Thread(target=lambda: _drain(lsock))
        sink.start()
        c = netns.call_in(topo.ns("client"), socket.socket, af, socket.SOCK_STREAM)
        c.bind((topo.client_address(family, 1), 0))
        c.settimeout(10)
        c.connect((topo.server_address(family, 0), lsock.getsockname()[1]))
        c.sendall(b"x" * 1_000_000)
        c.close()
        sink.join()
        lsock.close()
        grew = {i: _rx_bytes(topo, f"rs{i}", "tx_bytes") - before[i] for i in range(2)}
        assert grew[1] > 1_000_000 and grew[0] < 10_000, grew


def _drain(lsock):
    conn, _ = lsock.accept()
    while conn.recv(65536):
        pass
    conn.close()


def test_loss_rules_are_installed_in_the_router_only():
    spec = TopologySpec(links=(LinkSpec(rate_up_mbit=10, rate_down_mbit=10, loss_up_pct=2.5),))
    with Topology(spec, prefix("loss")) as topo:
        rules = topo.read_back()["nftables"]
        assert 'iifname "rc0"' in rules and "< 25000" in rules and "drop" in rules
        assert netns.run(topo.ns("client"), ["nft", "list", "ruleset"]).strip() == ""


def test_failure_half_way_rolls_back_everything():
    spec = TopologySpec(links=(LinkSpec(),), sysctls=(("net.mptcp.no_such_knob", "1"),))
    p = prefix("rollback")
    with pytest.raises(TopologyError, match="sysctl net.mptcp.no_such_knob does not exist"):
        with Topology(spec, p):
            pass
    assert not [n for n in netns.list_names() if n.startswith(p)]


def test_mptcp_is_enabled_in_the_endpoint_namespaces():
    from harness.host import sysctl
    with Topology(TopologySpec(links=(LinkSpec(),)), prefix("sysctl")) as topo:
        for role in ("client", "server"):
            assert sysctl.read(topo.ns(role), ["net.mptcp.enabled"]) == {"net.mptcp.enabled": "1"}
        assert sysctl.read(topo.ns("router"), ["net.ipv4.ip_forward"])["net.ipv4.ip_forward"] == "1"
        s = netns.call_in(topo.ns("client"), socket.socket, socket.AF_INET, socket.SOCK_STREAM,
                          sockinfo.IPPROTO_MPTCP)
        s.close()


def test_clean_from_another_process_spares_a_topology_in_use():
    with Topology(TopologySpec(links=(LinkSpec(),)), prefix("inuse")) as topo:
        assert bench("clean").returncode == 0
        assert all(netns.exists(n) for n in topo.namespaces())


def test_the_kernel_holds_the_tbf_burst_and_queue_that_were_asked():
    """What tbf accepted, as tc reads it back from the kernel (bytes, µs):
    independent of the formula in harness.net.shaping that asked for it."""
    spec = TopologySpec(links=(LinkSpec(rate_up_mbit=1000, rate_down_mbit=1, queue_ms=25),),
                        families=(4,))
    with Topology(spec, prefix("tbf")) as topo:
        shown = {dev: json.loads(netns.run(topo.ns("router"), ["tc", "-j", "qdisc", "show",
                                                               "dev", dev]))[0]["options"]
                 for dev in ("rs0", "rc0")}
    # 1000 Mbit/s is 125 MB/s: 2 ms of it is a 250 000-byte burst.
    assert shown["rs0"] == {"rate": 125_000_000, "burst": 250_000, "lat": 25_000}
    # 1 Mbit/s: 2 ms would be 250 bytes, less than one frame; the floor is 16 KiB.
    assert shown["rc0"] == {"rate": 125_000, "burst": 16_384, "lat": 25_000}


def test_offloads_are_set_on_every_interface_and_read_back():
    """GRO turned on everywhere (veth has it off unless asked): the kernel
    reports it on each end's and the router's interfaces, and the TSO it
    was not told about stays as the driver had it."""
    plain_spec = TopologySpec(links=(LinkSpec(),), families=(4,))
    with Topology(plain_spec, prefix("offp")) as topo:
        plain = topo.read_back()["offloads"]
    spec = TopologySpec(links=(LinkSpec(),), families=(4,), offloads=(("gro", True),))
    with Topology(spec, prefix("offg")) as topo:
        got = topo.read_back()["offloads"]
    assert set(got) == {"client", "router", "server"}
    assert set(got["router"]) == {"rc0", "rs0"} and set(got["server"]) == {"s0"}
    assert all(f["gro"] for ifs in got.values() for f in ifs.values())
    assert got["server"]["s0"]["tso"] == plain["server"]["s0"]["tso"]


def test_an_offload_the_driver_cannot_change_is_refused_and_nothing_is_left():
    spec = TopologySpec(links=(LinkSpec(),), families=(4,), offloads=(("lro", True),))
    topo = Topology(spec, prefix("offl"))
    with pytest.raises(TopologyError, match="lro"):
        topo.__enter__()
    assert not any(netns.exists(n) for n in topo.namespaces())
