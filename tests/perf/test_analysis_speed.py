"""Two runs of 100 000 trials each: load, summarise, compare and gate.

Skipped by the default test run (--benchmark-skip); `make bench-micro`
runs it.  The 5 s budget is asserted here, inside the benchmark only."""
import sys
from pathlib import Path

import pytest

from bench.analysis import compare, gate, summary
from bench.run.rundir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic  # noqa: E402

TRIALS = 100_000
BUDGET_S = 5.0


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Written the way a run writes them (results.json, then trials.csv)."""
    root = tmp_path_factory.mktemp("big")
    paths = []
    for seed, shift in ((1, 1.0), (2, 0.95)):
        doc = synthetic.big_doc(TRIALS, seed, shift=shift)
        rd = RunDir(root, doc["run_id"]).create()
        rd.write_results(doc)
        rd.write_csv(doc["trials"])
        paths.append(rd.path)
    return paths


def load_summarise_compare(base_dir, cand_dir):
    base, cand = summary.open_run(base_dir), summary.open_run(cand_dir)
    summaries = [summary.describe_samples(r.samples) for r in (base, cand)]
    c = compare.compare(base, cand)
    return summaries, gate.evaluate(c, gate.default_thresholds())


def test_two_runs_of_100k_trials_in_under_5_s(benchmark, two_runs):
    summaries, result = benchmark.pedantic(load_summarise_compare, args=two_runs,
                                           rounds=3, iterations=1)
    assert all(len(s) > 0 for s in summaries)
    assert result.status == gate.REGRESSED          # the candidate lost 5 % of goodput
    assert {r["metric"] for r in result.regressions} == {"goodput_bps"}
    assert benchmark.stats["median"] <= BUDGET_S
