"""Summaries on synthetic trials with known answers."""
import numpy as np
import pytest

from bench import analysis


def trials(tcp, mptcp, statuses=None):
    out = []
    for i, (a, b) in enumerate(zip(tcp, mptcp)):
        for proto, gp in (("tcp", a), ("mptcp", b)):
            status = (statuses or {}).get((proto, i), "ok")
            out.append({"run_id": "r", "scenario": "s", "protocol": proto, "repeat": i, "seq": 2 * i,
                        "status": status, "goodput_bps": gp, "cpu_system_s_per_gb": 1.0,
                        "expected_goodput_bps": 100.0, "subflows": 1})
    return out


def test_medians_quartiles_and_counts():
    df = analysis.frame(trials([10, 20, 30, 40, 50], [20, 40, 60, 80, 1],
                               {("mptcp", 4): "fallback"}))
    s = analysis.summarize(df).set_index("protocol")
    assert s.loc["tcp", "goodput_bps_median"] == 30
    assert s.loc["tcp", "goodput_bps_q1"] == 20 and s.loc["tcp", "goodput_bps_q3"] == 40
    assert s.loc["tcp", "goodput_bps_rel_iqr"] == pytest.approx(20 / 30)
    # The fallback trial is counted, not averaged in.
    assert s.loc["mptcp", "n_ok"] == 4 and s.loc["mptcp", "n_fallback"] == 1
    assert s.loc["mptcp", "goodput_bps_min"] == 20
    assert s.loc["mptcp", "goodput_bps_median"] == 50


def test_paired_ratio_uses_only_pairs_where_both_are_ok():
    df = analysis.frame(trials([10, 20, 30, 40], [20, 40, 60, 1], {("mptcp", 3): "stalled"}))
    r = analysis.paired_ratios(df, "goodput_bps").iloc[0]
    assert r["pairs"] == 3 and r["ratio"] == 2.0
    assert r["ci_low"] == r["ci_high"] == 2.0


def test_bootstrap_interval_covers_the_true_ratio():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        ratios = 1.8 * rng.lognormal(0, 0.05, size=10)
        lo, hi = analysis.bootstrap_median_ci(ratios)
        covered += lo <= 1.8 <= hi
    assert covered / 200 > 0.85


def test_bootstrap_needs_two_values():
    lo, hi = analysis.bootstrap_median_ci(np.array([1.0]))
    assert np.isnan(lo) and np.isnan(hi)
