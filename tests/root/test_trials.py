"""Real trials on real namespaces, through the driver and the record builder."""
import onetrial
import pytest

from bench.catalog import Catalog
from harness.net.topology import Topology


def run(topo, scenario, proto, duration=3.0, **override):
    return onetrial.one(topo, scenario, proto, duration, **override)


def test_tcp_on_a_50_mbit_link_gets_85_to_100_percent_of_it(catalog, write_defs):
    cat = Catalog([write_defs('[scenario.one]\ndescription = "d"\nlinks = [{ rate_mbit = 50 }]\n')])
    s = cat.scenario("one")
    with Topology(s.topology(), onetrial.prefix("tcp")) as topo:
        rec = run(topo, s, "tcp")
    assert rec["status"] == "ok", rec["reason"]
    assert 0.85 * 50e6 <= rec["goodput_bps"] <= 50e6
    # the interfaces' offloads as the kernel reported them at the trial's start
    assert set(rec["offloads"]) == {"client", "router", "server"}
    assert {"gro", "gso", "tso"} <= set(rec["offloads"]["server"]["s0"])


@pytest.mark.parametrize("name", ["aggregate-2x", "aggregate-2x-ipv6"])
def test_mptcp_over_two_shaped_links_uses_both(catalog, name):
    s = catalog.scenario(name)
    with Topology(s.topology(), onetrial.prefix(f"agg{s.family}")) as topo:
        rec = run(topo, s, "mptcp")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mptcp_verified"] and rec["subflows"] == 2
    carried = {sf["local_address"]: sf["bytes_acked"] for sf in rec["subflow_detail"]}
    assert set(carried) == {_client(s, 0), _client(s, 1)}
    assert all(b > 0.2 * rec["bytes"] for b in carried.values()), carried
    # Aggregation: clearly more than one link can carry.
    assert rec["goodput_bps"] > 1.5 * 50e6 * 0.9
    # Over time too: both subflows carry through the transfer (the middle
    # half of the intervals), near their link's 50 Mbit/s, and the
    # per-subflow series add up to what the receiver counted.
    per = rec["subflow_intervals_bytes"]
    assert len(per) == 2 and len(per[0]) == len(rec["intervals_bytes"])
    n = len(per[0])
    for series in per:
        middle = series[n // 4: 3 * n // 4]
        rate = sum(middle) * 8 / (len(middle) * rec["interval_s"])
        assert 0.5 * 50e6 < rate < 1.1 * 50e6, rate
    assert abs(sum(map(sum, per)) - rec["bytes"]) < 0.05 * rec["bytes"]


def _client(s, link):
    from harness.net import addressing
    return addressing.client_subnet(link, s.family).host


def test_a_crashing_worker_makes_a_failed_trial_with_its_reason(catalog):
    s = catalog.scenario("single-link")
    with Topology(s.topology(), onetrial.prefix("crash")) as topo:
        rec = run(topo, s, "tcp", duration=1.0, cpu_sender=4096)
        ok = run(topo, s, "tcp", duration=1.0)
    assert rec["status"] == "failed"
    assert "sender exited with status 1" in rec["reason"] and "Invalid argument" in rec["reason"]
    assert ok["status"] == "ok"
