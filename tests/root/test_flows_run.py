"""Bulk trials with several connections, through both drivers: the flows
together carry what the link allows, and each flow's share is recorded."""
import pytest
from onetrial import one, prefix

from bench.catalog import Catalog
from harness.net.topology import Topology

FOUR = ('[scenario.four]\ndescription = "d"\nlinks = [{ rate_mbit = 40 }]\n'
        'workload = { flows = 4, duration_s = 3 }\n')


@pytest.mark.parametrize("driver", ["native", "iperf3"])
def test_four_flows_share_a_shaped_link(write_defs, driver):
    scenario = Catalog([write_defs(FOUR)]).scenario("four")
    with Topology(scenario.topology(), prefix(f"fl{driver[0]}")) as topo:
        recs = [one(topo, scenario, p, 3.0, driver=driver) for p in ("tcp", "mptcp")]
    for rec in recs:
        assert rec["status"] == "ok", rec["reason"]
        assert rec["flows"] == 4 and len(rec["flows_goodput_bps"]) == 4
        assert 0.85 * 40e6 <= rec["goodput_bps"] <= 40e6 * 1.02
        assert 0.5 <= rec["fairness_jain"] <= 1.0
        if driver == "native":       # iperf3's series are the sum's, per interval
            assert sum(rec["intervals_bytes"]) == rec["bytes"]
