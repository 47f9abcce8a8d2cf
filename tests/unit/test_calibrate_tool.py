"""The gate calibration tool's resampling (tests/tools/calibrate_gate.py):
pseudo-runs keep TCP and MPTCP of a repeat together, and a "slower"
candidate carries exactly the latency regression it claims."""
import importlib.util
from pathlib import Path

import numpy as np

from bench.analysis.summary import RunData

_spec = importlib.util.spec_from_file_location(
    "calibrate_gate", Path(__file__).parents[1] / "tools" / "calibrate_gate.py")
calibrate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calibrate)


def _run(repeats=4):
    trials = [{"scenario": "s", "protocol": p, "driver": "native", "repeat": r, "status": "ok",
               "latency_us_p50": 20.0 + r, "latency_us_p99": 40.0 + r,
               "transactions_per_s": 1000.0 * (r + 1), "cpu_system_us_per_transaction": 10.0,
               "latency_samples_us": [1.0]}
              for r in range(repeats) for p in ("tcp", "mptcp")]
    return RunData({"run_id": "r", "trials": trials, "metadata": {}, "scenarios": {}}, Path("."))


def test_a_pseudo_run_draws_whole_repeats_and_renumbers_them():
    pr = calibrate.pseudo_run(_run(), np.random.default_rng(3), repeats=6)
    trials = pr.doc["trials"]
    assert sorted({t["repeat"] for t in trials}) == list(range(6))
    for r in range(6):
        pair = [t for t in trials if t["repeat"] == r]
        assert sorted(t["protocol"] for t in pair) == ["mptcp", "tcp"]
        assert pair[0]["latency_us_p50"] == pair[1]["latency_us_p50"]   # same original repeat


def test_a_slower_candidate_scales_latency_and_cpu_up_and_transactions_down():
    base = _run().doc["trials"][0]
    slowed = {**base, **calibrate._slowed(base, 1.2)}
    assert slowed["latency_us_p50"] == base["latency_us_p50"] * 1.2
    assert slowed["latency_us_p99"] == base["latency_us_p99"] * 1.2
    assert slowed["cpu_system_us_per_transaction"] == base["cpu_system_us_per_transaction"] * 1.2
    assert slowed["transactions_per_s"] == base["transactions_per_s"] / 1.2
    assert slowed["latency_samples_us"] == base["latency_samples_us"]   # lists are left alone
    assert calibrate._slowed(base, 1.0) == {}
