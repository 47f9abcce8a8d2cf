"""Which CPU comparison the answer line states: per GB at equal rates, per
GB and per second at different link-limited rates (synthetic runs)."""
import synthetic

from bench import report
from bench.analysis.rundata import RunData


def _headline(per_protocol: dict, limit: float | None = 100e6, n: int = 5) -> str:
    """The answer line of a run whose TCP and MPTCP trials carry these fields
    (a little spread per repeat, so every ratio has an interval)."""
    trials = []
    for r in range(n):
        for proto, fields in per_protocol.items():
            trials.append(synthetic.trial("s", proto, r, expected_goodput_bps=limit,
                                          **{k: v * (1 + 0.01 * r) for k, v in fields.items()}))
    return report.Report(RunData(synthetic.doc(trials))).headline("s", "native")


AGGREGATE_2X = {"tcp": {"goodput_bps": 47.8e6, "cpu_own_s_per_gb": 5.3, "cpu_own_per_s": 0.032},
                "mptcp": {"goodput_bps": 93.1e6, "cpu_own_s_per_gb": 2.7, "cpu_own_per_s": 0.031}}


def test_different_link_limited_rates_state_cpu_per_second_too():
    line = _headline(AGGREGATE_2X)
    assert "own CPU/GB ×0.51" in line
    assert "at different link-limited rates (MPTCP ×1.95 of TCP's goodput)" in line
    assert "so per GB compares different workloads; own CPU per second ×0.97" in line
    assert "(0.032 vs 0.033 CPUs)" in line     # the medians, at repeat 2 of 0..4


def test_equal_rates_state_per_gb_and_say_so():
    line = _headline({"tcp": {"goodput_bps": 95.7e6, "cpu_own_s_per_gb": 4.0, "cpu_own_per_s": 0.05},
                      "mptcp": {"goodput_bps": 91.9e6, "cpu_own_s_per_gb": 3.5,
                                "cpu_own_per_s": 0.04}})
    assert "own CPU/GB ×0.88" in line and "at equal rates (goodputs within 10%)" in line
    assert "per second" not in line


def test_cpu_bound_rates_compare_per_gb_alone():
    # Unshaped: the CPU set both rates, so per GB is a byte's cost.
    line = _headline(AGGREGATE_2X, limit=None)
    assert "own CPU/GB ×0.51" in line
    assert "rates" not in line and "per second" not in line
