"""Disturbed trials: out of every statistic, named in the report's first
section with their re-runs and whose load it was; schema-1 runs upgrade."""
import json

import synthetic

from bench import report, results_format
from bench.analysis import summary
from bench.analysis.rundata import RunData


def _run():
    trials = synthetic.paired("agg", [50e6] * 3, [90e6] * 3)
    for t in trials:
        t.update(attempt=1, cpu_own_s_per_gb=2.0, cpu_foreign_share=0.01)
    bad = dict(trials[0], status="disturbed", reason="foreign CPU 1.00 s", seq=10,
               goodput_bps=5e6, cpu_foreign_share=0.5,
               cpu_accounting={"top_foreign": [["cc1", 0.8], ["make", 0.2]]})
    trials[0]["attempt"] = 2
    doc = synthetic.doc([bad, *trials])
    doc["metadata"]["machine_load"] = {"busy_s": 0.4, "wall_s": 2.0, "share": 0.2, "busy": True,
                                       "top": [["cc1", 0.3]]}
    return doc


def test_a_disturbed_trial_enters_no_statistic():
    d = summary.describe(RunData(_run()).trials)
    tcp = d[(d["protocol"] == "tcp") & (d["metric"] == "goodput_bps")].iloc[0]
    assert tcp["n"] == 3 and tcp["min"] == 50e6


def test_the_first_section_says_the_machine_was_busy_and_what_was_rerun():
    text = report.markdown(doc := _run())
    first = text.split("\n## ")[1]
    assert first.startswith("The machine")
    assert "Before the run the machine was **busy**: 20.0% of one CPU" in first
    assert "1 of 7 trial records were disturbed" in first
    assert "| agg | TCP | 0 | 2 | ok | 50% 1% |" in first
    assert "cc1 0.80 s, make 0.20 s" in first
    assert doc["trials"][0]["status"] == "disturbed"


def test_a_schema_1_run_is_upgraded_without_own_cpu(tmp_path, data_dir):
    src = json.loads((data_dir / "runs" / "quick-a" / "results.json").read_text())
    assert src["schema_version"] == 1
    (tmp_path / "results.json").write_text(json.dumps(src))
    doc = results_format.load_results(tmp_path / "results.json")
    assert doc["schema_version"] == results_format.SCHEMA_VERSION == 2
    assert all(t["cpu_own_s_per_gb"] is None and t["attempt"] is None for t in doc["trials"])
    assert "No trial measured its own CPU" in report.markdown(doc)
