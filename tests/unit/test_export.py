"""Exports: pyperf's own tools read ours; CSV and Parquet round-trip."""
import subprocess
import sys

import pandas as pd
import pyperf
import pytest
import synthetic

from bench.analysis import export, summary
from bench.cli import main


@pytest.fixture
def exported(tmp_path, data_dir):
    out = tmp_path / "export"
    assert main(["export", "--pyperf", "--csv", "--parquet", str(data_dir / "runs" / "quick-a"),
                 "--out", str(out)]) == 0
    return out


def test_pyperf_suite_has_one_benchmark_per_scenario_protocol_metric(exported, data_dir):
    suite = pyperf.BenchmarkSuite.load(str(exported / "pyperf.json"))
    names = suite.get_benchmark_names()
    assert "aggregate-2x/mptcp/goodput_s_per_gb" in names
    assert "single-link/tcp/cpu_system_s_per_gb" in names
    bench = suite.get_benchmark("aggregate-2x/mptcp/goodput_s_per_gb")
    trials = summary.load(data_dir / "runs" / "quick-a")
    goodput = trials[(trials["scenario"] == "aggregate-2x") & (trials["protocol"] == "mptcp")]
    assert sorted(bench.get_values()) == pytest.approx(sorted(8e9 / goodput["goodput_bps"]))
    meta = bench.get_metadata()
    assert meta["unit"] == "second" and meta["mptcp_bench_metric"] == "goodput_bps"
    assert meta["platform"].startswith("Linux-6.") and meta["mptcp_bench_trials_not_ok"] == "0"


def test_pyperf_command_line_tools_work_on_the_export(exported, tmp_path, data_dir):
    other = tmp_path / "other"
    assert main(["export", "--pyperf", str(data_dir / "runs" / "quick-b"), "--out", str(other)]) == 0
    for args in (["stats", str(exported / "pyperf.json")], ["hist", str(exported / "pyperf.json")],
                 ["compare_to", str(exported / "pyperf.json"), str(other / "pyperf.json")]):
        proc = subprocess.run([sys.executable, "-m", "pyperf", *args], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "aggregate-2x/mptcp/goodput_s_per_gb" in proc.stdout


def test_not_ok_trials_ride_along_as_metadata():
    trials = synthetic.paired("s", [1e6] * 3, [2e6] * 3, statuses={("mptcp", 0): "fallback",
                                                                   ("mptcp", 1): "stalled"})
    suite = export.to_pyperf(synthetic.run(trials))
    bench = suite.get_benchmark("s/mptcp/goodput_s_per_gb")
    assert len(bench.get_values()) == 1
    assert bench.get_metadata()["mptcp_bench_trials_not_ok"] == "2 (fallback 1, stalled 1)"


def test_csv_and_parquet_tables(exported, data_dir):
    run = summary.open_run(data_dir / "runs" / "quick-a")
    for name in ("trials", "summary", "intervals"):
        csv = pd.read_csv(exported / f"{name}.csv")
        parquet = pd.read_parquet(exported / f"{name}.parquet")
        assert len(csv) == len(parquet) > 0
    trials = pd.read_parquet(exported / "trials.parquet")
    assert list(trials["goodput_bps"]) == pytest.approx(list(run.trials["goodput_bps"]))
    intervals = pd.read_parquet(exported / "intervals.parquet")
    assert len(intervals) == sum(len(t["intervals_bytes"]) for t in run.doc["trials"])
    assert not (exported / "latency.csv").exists()      # no latency samples in a bulk run


def test_export_needs_a_format(capsys, data_dir):
    assert main(["export", str(data_dir / "runs" / "quick-a")]) == 2
    assert "at least one of --pyperf, --csv, --parquet" in capsys.readouterr().err


def test_parquet_without_pyarrow_is_one_sentence(capsys, data_dir, tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    assert main(["export", "--parquet", str(data_dir / "runs" / "quick-a"),
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "export --parquet needs pyarrow" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
