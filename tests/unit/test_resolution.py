"""The resolution floor: a TCP–MPTCP difference in own CPU smaller than the
foreign CPU's spread is stated as below what the machine resolves, not as
a ratio (synthetic runs; the numbers are aggregate-2x's shape)."""
import pytest
import synthetic

from bench import report
from bench.analysis import resolution
from bench.analysis.rundata import RunData, frame


def _trials(foreign: list[float], tcp_per_gb: float = 5.3, mptcp_per_gb: float = 2.7,
            statuses=None) -> list[dict]:
    """Paired trials moving 0.018 GB (TCP) and 0.035 GB (MPTCP) in their
    window, with these foreign CPU seconds in repeat order (both protocols)."""
    out = []
    for r, f in enumerate(foreign):
        for proto, per_gb, gb in (("tcp", tcp_per_gb, 0.018), ("mptcp", mptcp_per_gb, 0.035)):
            status = (statuses or {}).get((proto, r), "ok")
            out.append(synthetic.trial("agg", proto, r, status=status, goodput_bps=gb * 8e9 / 3,
                                       cpu_own_s_per_gb=per_gb, cpu_own_s=per_gb * gb,
                                       cpu_foreign_s=f))
    return out


QUIET = [0.02, 0.03, 0.02, 0.04, 0.03]     # a few ticks of rounding
BUSY = [2.9, 3.6, 3.1, 4.3, 3.3]           # another job beside the trials


def test_the_floor_is_the_foreign_cpus_spread_in_the_metrics_unit():
    (row,) = resolution.floors(frame(_trials(QUIET))).to_dict("records")
    assert row["metric"] == "cpu_own_s_per_gb"
    # foreign seconds per GB: TCP's IQR 0.01 s / 0.018 GB beats MPTCP's / 0.035 GB
    assert row["floor"] == pytest.approx(0.01 / 0.018)
    assert row["difference"] == pytest.approx(2.6) and row["resolved"]


def test_a_quiet_machine_states_the_ratio():
    line = report.Report(RunData(synthetic.doc(_trials(QUIET)))).headline("agg", "native")
    assert "own CPU/GB ×0.51" in line and "resolves" not in line


def test_a_difference_within_the_foreign_spread_gets_no_ratio():
    rep = report.Report(RunData(synthetic.doc(_trials(BUSY))))
    line = rep.headline("agg", "native")
    assert "own CPU/GB below what this machine resolves (2.700 vs 5.300 s/GB: 2.600 apart" in line
    assert "own CPU/GB ×" not in line
    assert "(**not resolved**)" in rep.markdown()


def test_no_floor_without_foreign_cpu_or_with_one_trial_a_side():
    unmeasured = [dict(t, cpu_foreign_s=None) for t in _trials(BUSY)]    # hosts, schema 1
    assert resolution.floors(frame(unmeasured)).empty
    single = _trials(BUSY, statuses={("tcp", r): "stalled" for r in range(1, 5)})
    assert resolution.floors(frame(single)).empty


def test_only_ok_trials_set_the_floor():
    # The busy repeats are not ok (disturbed): what is left is quiet.
    trials = _trials(QUIET + BUSY, statuses={(p, r): "disturbed" for p in ("tcp", "mptcp")
                                             for r in range(5, 10)})
    (row,) = resolution.floors(frame(trials)).to_dict("records")
    assert row["resolved"] and row["floor"] == pytest.approx(0.01 / 0.018)
