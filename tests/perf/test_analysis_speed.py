"""Two runs of 100 000 trials each: load, summarise, compare and gate.

Skipped by the default test run (--benchmark-skip); `make bench-micro`
runs it.  No absolute budget (the machine decides that): the time grows
with the trials, not faster, measured against runs of 10 000 in the
same session."""
import statistics
import sys
import time
from pathlib import Path

import pytest

from bench.analysis import compare, gate, summary
from bench.run.rundir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import synthetic  # noqa: E402

TRIALS = 100_000
SMALL = 10_000
# Ten times the trials may cost at most this many times the time: linear
# work with a fixed part passes, quadratic work (×100) does not.
MAX_GROWTH = 15


def _write_two(root, trials: int) -> list:
    """Written the way a run writes them (results.json, then trials.csv)."""
    paths = []
    for seed, shift in ((1, 1.0), (2, 0.95)):
        doc = synthetic.big_doc(trials, seed, shift=shift)
        rd = RunDir(root, doc["run_id"]).create()
        rd.write_results(doc)
        rd.write_csv(doc["trials"])
        paths.append(rd.path)
    return paths


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    return _write_two(tmp_path_factory.mktemp("big"), TRIALS)


@pytest.fixture(scope="module")
def two_small_runs(tmp_path_factory):
    return _write_two(tmp_path_factory.mktemp("small"), SMALL)


def load_summarise_compare(base_dir, cand_dir):
    base, cand = summary.open_run(base_dir), summary.open_run(cand_dir)
    summaries = [summary.describe_samples(r.samples) for r in (base, cand)]
    c = compare.compare(base, cand)
    return summaries, gate.evaluate(c, gate.default_thresholds())


def _median_s(runs, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        load_summarise_compare(*runs)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_two_runs_of_100k_trials_grow_linearly(benchmark, two_runs, two_small_runs):
    small_s = _median_s(two_small_runs)
    summaries, result = benchmark.pedantic(load_summarise_compare, args=two_runs,
                                           rounds=3, iterations=1)
    assert all(len(s) > 0 for s in summaries)
    assert result.status == gate.REGRESSED          # the candidate lost 5 % of goodput
    assert {r["metric"] for r in result.regressions} == {"goodput_bps"}
    growth = benchmark.stats["median"] / small_s
    assert growth <= MAX_GROWTH, (growth, small_s)
