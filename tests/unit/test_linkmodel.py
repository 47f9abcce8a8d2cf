import pytest

from bench.catalog import Catalog
from bench.record import linkmodel


def test_payload_shares_match_segments_seen_on_the_wire():
    # 1500-byte IPv4 packets carried 1448 payload bytes (TCP) and 1424
    # (MPTCP, DSS option) in 1514-byte frames.
    assert linkmodel.payload_share("tcp", 4) == pytest.approx(1448 / 1514)
    assert linkmodel.payload_share("mptcp", 4) == pytest.approx(1424 / 1514)
    assert linkmodel.payload_share("tcp", 6) == pytest.approx(1428 / 1514)


def test_aggregate_limit_is_the_sum_of_the_links_for_mptcp_and_one_link_for_tcp():
    s = Catalog().scenario("aggregate-2x")
    assert linkmodel.goodput_limit_bps(s, "tcp") == pytest.approx(50e6 * 1448 / 1514)
    assert linkmodel.goodput_limit_bps(s, "mptcp") == pytest.approx(2 * 50e6 * 1424 / 1514)
    assert not linkmodel.is_upper_bound(s)


def test_equal_rate_scenario_holds_both_protocols_to_about_100_mbit():
    s = Catalog().scenario("aggregate-equal-rate")
    tcp, mptcp = (linkmodel.goodput_limit_bps(s, p) for p in ("tcp", "mptcp"))
    assert tcp == pytest.approx(100e6 * 1448 / 1514)
    assert mptcp == pytest.approx(2 * 50e6 * 1424 / 1514)
    assert abs(mptcp / tcp - 1) < 0.02
    assert linkmodel.links_carrying(s, "tcp") == [0]
    assert linkmodel.links_carrying(s, "mptcp") == [1, 2]


def test_unshaped_link_has_no_model_limit():
    assert linkmodel.goodput_limit_bps(Catalog().scenario("single-link"), "tcp") is None


def test_loss_makes_the_limit_an_upper_bound(write_defs):
    cat = Catalog([write_defs('[scenario.l]\ndescription = "d"\nlinks = [{ rate_mbit = 20, loss_pct = 1 }]\n')])
    assert linkmodel.is_upper_bound(cat.scenario("l"))
