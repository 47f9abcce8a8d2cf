"""Stall classification on interval series."""
import json

import pytest

from bench.record import stalls


def _t(gp, proto="mptcp", intervals=None, status="ok", mib=None):
    return {"scenario": "s", "protocol": proto, "driver": "native", "goodput_bps": gp, "repeat": 0,
            "status": status, "reason": None, "intervals_bytes": intervals or [],
            "interval_s": 0.1, "duration_s": len(intervals or []) * 0.1, "mib": mib or {}}


def test_whole_trial_far_below_its_scenario_median():
    trials = [_t(90e6), _t(92e6), _t(91e6), _t(20e6, mib={"client": {"MPTcpExtMPTCPRetrans": 7}}),
              _t(40e6, "tcp"), _t(41e6, "tcp"), _t(5e6, "tcp")]
    stalls.classify(trials)
    assert [t["status"] for t in trials] == ["ok", "ok", "ok", "stalled", "ok", "ok", "stalled"]
    assert "22% of the median 90.5 Mbit/s" in trials[3]["reason"]
    assert trials[3]["stall"]["evidence"] == {"client.MPTcpExtMPTCPRetrans": 7}


def test_too_few_trials_are_not_judged_against_a_median():
    trials = [_t(90e6), _t(1e6)]
    stalls.classify(trials)
    assert all(t["status"] == "ok" for t in trials)


def test_a_sustained_collapse_mid_trial_is_a_stall_even_alone():
    series = [600_000] * 15 + [1_000] * 15 + [600_000] * 10 + [12]
    trials = [_t(30e6, intervals=series)]
    stalls.classify(trials)
    assert trials[0]["status"] == "stalled"
    assert trials[0]["stall"]["stretch_s"] == pytest.approx(1.5)
    assert trials[0]["stall"]["stretch_start_s"] == pytest.approx(1.5)


def test_a_short_dip_or_the_partial_last_interval_is_not():
    series = [600_000] * 20 + [1_000] * 3 + [600_000] * 17 + [5]
    trials = [_t(30e6, intervals=series)]
    stalls.classify(trials)
    assert trials[0]["status"] == "ok"


def test_only_ok_trials_are_reclassified():
    t = _t(1e6, intervals=[600_000] * 10 + [0] * 20 + [1], status="fallback")
    stalls.classify([t])
    assert t["status"] == "fallback"


def test_real_shaped_trials_are_steady(data_dir):
    from bench.catalog import Catalog
    from bench.record import trial
    raw = json.loads((data_dir / "raw-trials.json").read_text())
    s = Catalog().scenario("aggregate-2x")
    recs = [trial.build(raw[p], s, p, run_id="r", repeat=0, seq=0) for p in ("tcp", "mptcp")]
    stalls.classify(recs)
    assert [r["status"] for r in recs] == ["ok", "ok"]


def test_an_mptcp_trial_collapsed_against_its_paired_tcp_trial_is_stalled_even_when_most_are():
    trials = []
    for repeat, mptcp in enumerate([0.8e9, 0.7e9, 10.5e9, 0.9e9]):
        for proto, gp in (("tcp", 15e9), ("mptcp", mptcp)):
            t = _t(gp, proto)
            t["repeat"] = repeat
            trials.append(t)
    stalls.classify(trials)
    assert [t["status"] for t in trials if t["protocol"] == "mptcp"] == \
        ["stalled", "stalled", "ok", "stalled"]
    assert "5% of the paired TCP trial's 15000.0 Mbit/s" in trials[1]["reason"]


def test_a_shaped_trial_far_below_its_links_is_stalled_unless_the_limit_is_only_a_bound():
    low = _t(20e6, "tcp")
    low["expected_goodput_bps"] = 47.8e6
    lossy = dict(low, expected_is_upper_bound=True)
    stalls.classify([low, lossy])
    assert low["status"] == "stalled" and "42% of what the links allow" in low["reason"]
    assert lossy["status"] == "ok"


def test_a_stall_beside_foreign_load_says_so_with_the_load():
    busy = dict(_t(300e6), repeat=1, cpu_foreign_share=1.01,
                cpu_accounting={"top_foreign": [["python3", 2.32], ["bash", 0.01]]})
    quiet = dict(_t(310e6), repeat=2, cpu_foreign_share=0.01, cpu_accounting={"top_foreign": []})
    trials = [busy, quiet, _t(9000e6, "tcp"), dict(_t(9100e6, "tcp"), repeat=1),
              dict(_t(9000e6, "tcp"), repeat=2)]
    stalls.classify(trials)
    assert busy["status"] == quiet["status"] == "stalled"
    assert busy["reason"].endswith(", under foreign CPU load of 101% of one CPU "
                                   "(python3 2.32 s, bash 0.01 s)")
    assert "foreign" not in quiet["reason"]
