"""The iperf3 driver on real topologies: the truth checks hold for it as
for the native engine (an "MPTCP" iperf3 run that fell back is a
fallback), and a test that does not end in time fails with its reason."""

import onetrial
import pytest

from bench.catalog import Catalog
from harness.host import netns
from harness.net.topology import Topology


def run(scenario, proto, tag, duration=2.0, **override):
    with Topology(scenario.topology(), onetrial.prefix(tag)) as topo:
        rec = onetrial.one(topo, scenario, proto, duration, "iperf3", scenario.link_events(),
                           **override)
        left = netns.pids_in(topo.namespaces())
    return rec, left


@pytest.mark.parametrize("name", ["aggregate-2x", "aggregate-2x-ipv6"])
def test_mptcp_over_two_links_is_verified_from_both_ends(name):
    rec, left = run(Catalog().scenario(name), "mptcp", f"ip3agg{name[-1]}")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mptcp_verified"] and rec["subflows"] == 2
    assert {rec["mptcp"][s]["source"] for s in ("client", "server")} == {"sock_diag"}
    # More than one 50 Mbit/s link carries: both did. Not a rate goal: a 2-s
    # trial spends part of itself on the join, and a busy machine slows it.
    assert rec["goodput_bps"] > 1.1 * 50e6
    assert rec["tool"]["mptcp_method"] in ("mptcpize", "--mptcp") and not left


@pytest.mark.parametrize("name, evidence", [
    ("tcp-server", "server socket protocol is 6, not MPTCP"),
    ("middlebox", "Fallback"),
])
def test_an_mptcp_iperf3_run_that_fell_back_is_a_fallback(name, evidence):
    rec, _ = run(Catalog().scenario(name), "mptcp", f"ip3{name[:4]}")
    assert rec["status"] == "fallback" and rec["mptcp_verified"] is False
    assert evidence in rec["reason"]
    assert rec["goodput_bps"] > 0.85 * 50e6      # it still moved data, as TCP


def test_a_test_that_does_not_end_in_time_fails_and_leaves_nothing():
    s = Catalog().scenario("single-link")
    rec, left = run(s, "tcp", "ip3slow", duration=5.0, timeout_s=2.0)
    assert rec["status"] == "failed"
    assert rec["reason"] == "the iperf3 client did not finish within 2 s"
    assert rec["error"]["errno"] == "ETIMEDOUT" and not left
