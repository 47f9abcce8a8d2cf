"""Reading a run: the trials table from trials.csv equals the one built
from results.json; the document is parsed only when needed."""
import json
import os
import shutil

import pandas as pd
import pytest
import synthetic

from bench import results_format
from bench.analysis import rundata
from bench.run.rundir import RunDir


def _fresh_copy(src, dst):
    """A copy in the current schema whose trials.csv is newer than its
    results.json, as a run writes them (a plain copy or a git checkout may
    order them either way)."""
    shutil.copytree(src, dst)
    doc = results_format.load_results(dst / "results.json")
    (dst / "results.json").write_text(json.dumps(doc))
    RunDir(dst.parent, dst.name).write_csv(doc["trials"])
    now = os.stat(dst / "results.json").st_mtime_ns
    os.utime(dst / "trials.csv", ns=(now + 10**9, now + 10**9))
    return dst


@pytest.mark.parametrize("name", ["quick-a", "quick-b"])
def test_csv_and_document_give_the_same_table(tmp_path, data_dir, name):
    run = rundata.open_run(_fresh_copy(data_dir / "runs" / name, tmp_path / name))
    from_csv = run.trials
    assert run._doc is None, "the trials table came from results.json"
    from_doc = rundata.frame(run.doc["trials"])
    pd.testing.assert_frame_equal(from_csv, from_doc)


def test_columns_full_of_none_and_mixed_types_survive_the_csv(tmp_path):
    trials = synthetic.paired("s", [1e6, 2e6], [3e6, 4e6])
    trials[0].update(reason="a, quoted \"reason\"", mptcp_verified=None, cpu_sender=0,
                     send_mode="sendfile")
    trials[1].update(mptcp_verified=True, status="fallback")
    doc = synthetic.doc(trials, run_id="r1")
    rd = RunDir(tmp_path, "r1").create()
    rd.write_results(doc)
    rd.write_csv(trials)
    run = rundata.open_run(rd.path)
    pd.testing.assert_frame_equal(run.trials, rundata.frame(trials))
    assert run._doc is None


def test_a_stale_or_foreign_csv_is_not_used(tmp_path, data_dir):
    path = _fresh_copy(data_dir / "runs" / "quick-a", tmp_path / "a")
    now = os.stat(path / "results.json").st_mtime_ns
    os.utime(path / "trials.csv", ns=(now - 10**9, now - 10**9))
    run = rundata.open_run(path)
    assert len(run.trials) == 8 and run._doc is not None
    shutil.copy(data_dir / "runs" / "quick-b" / "trials.csv", path / "trials.csv")
    os.utime(path / "trials.csv", ns=(now + 10**9, now + 10**9))
    run = rundata.open_run(path)
    assert set(run.trials["run_id"]) == {run.run_id} and run._doc is not None


def test_the_head_is_read_without_the_trials(data_dir):
    path = data_dir / "runs" / "quick-a" / "results.json"
    head = results_format.load_head(path)
    full = json.loads(path.read_text())
    assert head == {k: v for k, v in full.items() if k != "trials"}


def test_a_truncated_results_file_is_refused(tmp_path, data_dir):
    text = (data_dir / "runs" / "quick-a" / "results.json").read_text()
    (tmp_path / "results.json").write_text(text[:500])
    with pytest.raises(results_format.InputError, match="not valid JSON"):
        rundata.open_run(tmp_path)


def test_samples_hold_metrics_and_ratios_with_categorical_keys():
    run = synthetic.run(synthetic.paired("s", [10, 20], [30, 80]))
    s = run.samples
    goodput = s[s["metric"] == "goodput_bps"]
    assert sorted(zip(goodput["protocol"], goodput["repeat"], goodput["value"])) == [
        ("mptcp", 0, 30), ("mptcp", 1, 80), ("mptcp/tcp", 0, 3), ("mptcp/tcp", 1, 4),
        ("tcp", 0, 10), ("tcp", 1, 20)]
    assert isinstance(s["scenario"].dtype, pd.CategoricalDtype)
