"""The scenario library on real topologies: each scenario shows what it is
meant to show."""

import onetrial
import pytest


def run(scenario, protos, duration=None, tag=""):
    return onetrial.on_own_topology(scenario, protos, duration or scenario.workload.duration_s, tag)


def _delivered_after(rec, at_s):
    first = int(at_s / rec["interval_s"]) + 1
    return sum(rec["intervals_bytes"][first:])


def test_failover_mptcp_carries_on_while_tcp_stalls(catalog):
    tcp, mptcp = run(catalog.scenario("failover"), ("tcp", "mptcp"), tag="fo")
    down = {r["protocol"]: r["events"][0]["at_s_from_first_byte"] for r in (tcp, mptcp)}
    assert tcp["status"] == "stalled"
    assert mptcp["status"] in ("ok", "stalled") and mptcp["subflows"] == 2
    # MPTCP kept delivering over the surviving path; TCP waited for its path.
    assert _delivered_after(mptcp, down["mptcp"]) > 10e6
    assert mptcp["failover_gap_ms"] < 1500 < 2500 <= tcp["failover_gap_ms"]
    assert mptcp["failover_recover_s"] is not None
    # Per subflow: from half a second after the link went down until it
    # came back, the first subflow's path carries nothing and the second
    # carries it all.
    up = mptcp["events"][1]["at_s_from_first_byte"]
    step = mptcp["interval_s"]
    outage = slice(int((down["mptcp"] + 0.5) / step), int(up / step))
    first, second = (sum(s[outage]) for s in mptcp["subflow_intervals_bytes"])
    assert first == 0 and second > 5e6, (first, second)
    # Link 0 came back after 2.5 s: each record places the restore on its
    # series, and says when the path carried data again, or that it had not
    # by the end (a backed-off timer can outlast the 2 s left: either holds).
    for rec in (tcp, mptcp):
        (restored,) = rec["restores"]
        assert restored["link"] == 0 and restored["down_s"] == pytest.approx(2.5, abs=0.1)
        assert restored["watched_s"] > 1.5
        used = restored["first_data_s"]
        assert rec["restore_unused"] is (used is None)
        assert used is None or 0 <= used < restored["watched_s"]
    # Every byte arrived, in order and intact, for both.
    for rec in (tcp, mptcp):
        v = rec["verify"]
        assert v["enabled"] and v["mismatches"] == 0 and v["missing_bytes"] == 0
        assert v["checked_bytes"] == rec["bytes"]


def test_a_backup_subflow_carries_almost_nothing_while_the_primary_works(catalog):
    (rec,) = run(catalog.scenario("backup"), ("mptcp",), duration=3, tag="bk")
    assert rec["status"] == "ok" and rec["subflows"] == 2
    assert rec["subflow_share"][1] < 0.05


def test_the_backup_takes_over_when_the_primary_fails(catalog):
    (rec,) = run(catalog.scenario("backup-takeover"), ("mptcp",), tag="bkt")
    down = rec["events"][0]["at_s_from_first_byte"]
    assert _delivered_after(rec, down) > 5e6
    assert rec["subflow_share"][1] > 0.2
    assert rec["verify"]["mismatches"] == 0 and rec["verify"]["missing_bytes"] == 0


def test_a_dropped_mp_capable_syn_costs_its_timeouts_then_falls_back(catalog):
    """blackhole-mpc-every: the router drops SYNs with MP_CAPABLE; from 6.12
    the client retries without it after its second SYN timeout (1 s + 2 s)."""
    (rec,) = run(catalog.scenario("blackhole-mpc-every"), ("mptcp",), duration=1, tag="bh")
    assert rec["status"] == "fallback", rec["reason"]
    assert rec["connect_ms"] >= 3000         # two SYN retransmission timeouts, 1 s and 2 s
    assert rec["mib"]["client"].get("MPTcpExtMPCapableSYNTXDrop") == 1
    assert rec["bytes"] > 0


def test_a_dropped_mp_join_leaves_the_connection_on_one_subflow(catalog):
    (rec,) = run(catalog.scenario("blackhole-join"), ("mptcp",), duration=1, tag="bj")
    assert rec["status"] == "partial" and rec["subflows"] == 1, rec["reason"]
    assert rec["mib"]["client"].get("MPTcpExtMPJoinSynTx", 0) >= 1
    assert not rec["mib"]["server"].get("MPTcpExtMPJoinSynRx")


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_subflow_scaling_establishes_one_subflow_per_link(catalog, n):
    (rec,) = run(catalog.scenario(f"subflow-scaling-{n}"), ("mptcp",), duration=2, tag=f"sc{n}")
    # A stall is this kernel's behaviour, not the scenario's: the subflows
    # must be there either way, and share the load when nothing stalled.
    assert rec["status"] in ("ok", "stalled"), rec["reason"]
    assert rec["subflows"] == n
    if rec["status"] == "ok":
        assert all(share > 0.5 / n for share in rec["subflow_share"])


def test_fullmesh_with_a_signalled_address_runs_two_subflows_per_link(catalog):
    (rec,) = run(catalog.scenario("aggregate-2x-fullmesh"), ("mptcp",), duration=2, tag="fm")
    assert rec["status"] in ("ok", "stalled"), rec["reason"]
    assert rec["subflows"] == 4
    per_link = {}
    for sf in rec["subflow_detail"]:
        per_link[sf["local_address"]] = per_link.get(sf["local_address"], 0) + 1
    assert per_link == {"198.18.0.1": 2, "198.18.1.1": 2}


def test_equal_rate_puts_tcp_on_the_fast_link_and_mptcp_on_the_two_slow_ones(catalog):
    tcp, mptcp = run(catalog.scenario("aggregate-equal-rate"), ("tcp", "mptcp"), duration=2,
                     tag="eq")
    # Faster than one 50 Mbit/s link carries (47 Mbit/s of payload): TCP
    # ran on the 100 Mbit/s link.
    assert tcp["status"] == "ok" and tcp["goodput_bps"] > 60e6
    assert tcp["goodput_bps"] <= 1.02 * tcp["expected_goodput_bps"]
    assert mptcp["status"] in ("ok", "stalled"), mptcp["reason"]
    assert sorted(sf["local_address"] for sf in mptcp["subflow_detail"]) == [
        "198.18.1.1", "198.18.2.1"]
    if mptcp["status"] == "ok":     # both slow links carried data
        assert all(share > 0.25 for share in mptcp["subflow_share"])
        assert mptcp["expected_goodput_bps"] == pytest.approx(tcp["expected_goodput_bps"],
                                                              rel=0.02)


def test_a_new_address_the_path_manager_is_told_of_carries_data_again(catalog):
    (rec,) = run(catalog.scenario("readdress-pm"), ("mptcp",), tag="rda")
    assert rec["status"] in ("ok", "stalled") and not rec["events"][0]["error"]
    (restored,) = rec["restores"]
    assert restored["link"] == 0 and restored["first_data_s"] is not None
    # A subflow from the spare address, on link 0, after the change.
    spare = "198.18.0.3:"
    assert any(k.startswith(spare) for k in rec["subflow_intervals_keys"]), rec["subflow_intervals_keys"]
    v = rec["verify"]
    assert v["enabled"] and v["mismatches"] == 0 and v["missing_bytes"] == 0


def test_tcp_does_not_survive_its_address(catalog):
    (rec,) = run(catalog.scenario("readdress"), ("tcp",), tag="rdt")
    assert rec["status"] in ("failed", "stalled")
    assert rec["status"] == "failed" or rec["restore_unused"]


def test_a_connection_that_hangs_still_says_what_it_delivered(catalog):
    # On 6.18 stripping MPTCP mid-stream hangs the connection (docs/scenarios.md,
    # Blackholes); a kernel that falls back cleanly gives a complete trial.
    (rec,) = run(catalog.scenario("strip-midway-1link"), ("mptcp",), tag="smw")
    assert rec["status"] in ("fallback", "failed")
    if rec["status"] == "fallback":
        v = rec["verify"]
        assert v["mismatches"] == 0 and v["missing_bytes"] == 0
        return
    # The receiver was asked what it got: every byte checked, and any wrong
    # one said in the trial's reason (6.18 delivered some: docs/findings.md).
    seen = rec["before_failure"]
    if seen["received_bytes"] is None:
        # The receiver never reported (1 trial in 5 on 6.18, and twice in this
        # test under CI's load): nothing was verified, and nothing is claimed.
        assert "verify" not in seen and rec["reason"]
        return
    assert seen["received_bytes"] > 0 and seen["delivered_until_s"] > 0
    assert seen["sent_bytes"] is None or seen["sent_bytes"] > 0
    assert seen["verify"]["checked_bytes"] == seen["received_bytes"]
    assert (seen["verify"]["mismatches"] > 0) == ("of them wrong" in rec["reason"])
