"""Measurement truth on real topologies: every MPTCP number proves it was
MPTCP, and what was not is classified as such."""
import os

import onetrial

from bench.catalog import Catalog


def run(scenario, protos=("mptcp",), duration=2.0, tag=""):
    return onetrial.on_own_topology(scenario, protos, duration, tag)


def test_a_middlebox_stripping_the_mptcp_option_makes_a_fallback_never_ok():
    (rec,) = run(Catalog().scenario("middlebox"), tag="mbox")
    assert rec["status"] == "fallback"
    assert rec["mptcp_verified"] is False
    assert "MPTCP_INFO: EOPNOTSUPP" in rec["reason"] or "Fallback" in rec["reason"]
    assert rec["goodput_bps"] > 0.85 * 50e6   # it still worked, as TCP on one path


def test_a_plain_tcp_server_is_detected_as_fallback():
    (rec,) = run(Catalog().scenario("tcp-server"), tag="tcpsrv")
    assert rec["status"] == "fallback"
    assert "server socket protocol is 6" in rec["reason"]


def test_a_missing_second_endpoint_is_marked_partial(write_defs):
    cat = Catalog([write_defs(
        '[scenario.noep]\ndescription = "d"\nlinks = [{ rate_mbit = 50 }, { rate_mbit = 50 }]\n'
        '[scenario.noep.mptcp]\nendpoints = []\nexpected_subflows = 2\n')])
    (rec,) = run(cat.scenario("noep"), tag="noep")
    assert rec["status"] == "partial"
    assert rec["reason"] == "1 of 2 expected subflows (client no join attempted)"
    assert rec["subflows"] == 1


def test_a_rate_cut_mid_trial_is_classified_as_a_stall_with_evidence(write_defs):
    cat = Catalog([write_defs(
        '[scenario.cut]\ndescription = "d"\nlinks = [{ rate_mbit = 50 }]\n'
        'workload = { duration_s = 4 }\n'
        'events = [{ at_s = 1.2, link = 0, action = "rate", rate_mbit = 0.2 },\n'
        '          { at_s = 2.7, link = 0, action = "rate", rate_mbit = 50 }]\n')])
    (rec,) = run(cat.scenario("cut"), protos=("tcp",), duration=4.0, tag="cut")
    assert [e["error"] for e in rec["events"]] == [None, None]
    first = rec["events"][0]["at_s_from_first_byte"]
    # Due 1.2 s after the client connected, so at most that after its first
    # byte, plus the time tc takes to apply it (0.5 ms over, once, in CI).
    assert 0.5 < first < 1.5
    assert rec["status"] == "stalled", rec["reason"]
    assert rec["stall"]["stretch_s"] >= 1.0
    assert abs(rec["stall"]["stretch_start_s"] - first) < 0.5


def test_cpu_accounting_adds_up():
    """The machine's busy time over the window covers the workers' own CPU
    time and fits in the machine's capacity.  Where the v1 root cpuacct
    gives every task's exact run time, the lower bound is checked on it:
    /proc/stat's ticks miss busy time between them, up to 11 % of a short
    window here (docs/method.md), and once made this bound fail (2026-12-06:
    1.18 s of ticks against 1.31 s of the workers' rusage).  The bounds
    allow 10 %."""
    s = Catalog().scenario("single-link")
    recs = run(s, protos=("tcp", "mptcp"), duration=2.0, tag="cpu")
    for rec in recs:
        # A single-path MPTCP stall (a kernel finding, KERNEL_NOTES) changes
        # the goodput, not how the CPU time is accounted.
        assert rec["status"] in ("ok", "stalled"), rec["reason"]
        workers = rec["cpu_sender_s"] + rec["cpu_receiver_s"]
        wall_capacity = rec["window_s"] * os.cpu_count()
        exact = rec["cpu_accounting"]["machine_from"] == "cpuacct"
        busy = rec["cpu_machine_s"] if exact else rec["cpu_system_s"]
        assert 0.9 * workers <= busy
        assert rec["cpu_system_s"] <= 1.1 * wall_capacity
        assert rec["system"]["capacity_s"] <= 1.1 * wall_capacity
        assert rec["cpu_accounting"]["foreign_s"] >= 0
