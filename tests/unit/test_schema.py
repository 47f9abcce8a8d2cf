import json

import pandas as pd
import pytest

from bench import results_format
from bench.errors import InputError
from bench.run.rundir import RunDir, read_journal


def _trial(i, proto="tcp"):
    return {k: None for k in results_format.CORE_COLUMNS} | {
        "run_id": "r1", "scenario": "s", "protocol": proto, "driver": "native", "repeat": i,
        "seq": i, "status": "ok", "goodput_bps": 1e6 * (i + 1), "intervals_bytes": [1, 2]}


def test_results_round_trip_and_csv(tmp_path):
    rd = RunDir(tmp_path, "r1").create()
    trials = [_trial(0), _trial(1, "mptcp")]
    for t in trials:
        rd.append_trial(t)
    doc = results_format.results_document("r1", {"kernel": {}}, {"s": {}}, trials, "complete")
    rd.write_results(doc)
    rd.write_csv(trials)
    rd.point_latest()
    loaded = results_format.load_results(rd.path / "results.json")
    assert loaded == json.loads(json.dumps(doc))
    assert read_journal(rd.path) == trials
    df = pd.read_csv(rd.path / "trials.csv")
    assert list(df.columns[:len(results_format.CORE_COLUMNS)]) == list(results_format.CORE_COLUMNS)
    assert len(df) == 2
    assert (tmp_path / "latest").resolve() == rd.path.resolve()
    assert not list(rd.path.glob(".*tmp*")), "temporary files left behind"


def test_newer_schema_is_refused_with_advice(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema_version": results_format.SCHEMA_VERSION + 1}))
    with pytest.raises(InputError, match="newer mptcp-bench.*upgrade mptcp-bench"):
        results_format.load_results(path)


def test_not_a_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="not an mptcp-bench results file"):
        results_format.load_results(path)
    path.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        results_format.load_results(path)


def test_torn_journal_line_is_skipped(tmp_path):
    rd = RunDir(tmp_path, "r2").create()
    rd.append_trial(_trial(0))
    with open(rd.path / "trials.jsonl", "a") as f:
        f.write('{"run_id": "r2", "scen')
    assert len(read_journal(rd.path)) == 1


def test_existing_run_dir_and_unwritable_out_are_refused(tmp_path):
    RunDir(tmp_path, "r3").create()
    with pytest.raises(InputError, match="cannot create"):
        RunDir(tmp_path, "r3").create()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="not a writable directory"):
        RunDir(blocker / "sub", "r4").create()
