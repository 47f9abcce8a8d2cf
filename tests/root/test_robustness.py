"""A run survives what goes wrong around it: a worker that hangs or
crashes, an interruption followed by --resume, a second run started beside
it.  Real processes, real namespaces; each test checks the exit status, the
message, the journal, and that nothing is left behind."""
import os
import signal
import time

import pytest
from clirun import (
    MEASURED,
    TINY,
    bench,
    journal,
    mine,
    new_namespaces,
    start,
    wait_for_namespaces,
    wait_for_trials,
    wait_for_workers,
)

from bench import results_format
from harness.host import netns


@pytest.fixture
def tiny(write_defs):
    return write_defs(TINY)


@pytest.mark.parametrize("fault, reason", [
    ("hang", "the sender did not finish within 17 s"),
    ("crash", "the sender exited with status -9"),
])
def test_a_worker_that_hangs_or_crashes_fails_its_trial_and_the_run_goes_on(
        tmp_path, tiny, root_ns_unchanged, fault, reason):
    flag = tmp_path / "fault"
    flag.write_text(f"sender {fault}")        # claimed by the first sender only
    out = tmp_path / "reports"
    proc = bench("run", "--scenario-file", tiny, "--suite", "tiny", "--out", out,
                 env={**os.environ, "MPTCP_BENCH_TEST_FAULT": str(flag)})
    assert proc.returncode == 1, proc.stderr   # a failed trial is a benchmark failure
    run = (out / "latest").resolve()
    trials = journal(run)
    assert len(trials) == 6 and not flag.exists()
    assert trials[0]["status"] == "failed" and reason in trials[0]["reason"]
    assert {t["status"] for t in trials[1:]} <= MEASURED, [t["reason"] for t in trials]
    assert f"— {trials[0]['reason']}" in proc.stderr     # said when it happened
    assert not mine(run)


def _interrupt(tmp_path, tiny, how: str):
    """A tiny run stopped by `how` after two finished trials; its directory."""
    out = tmp_path / "reports"
    proc = start("run", "--scenario-file", tiny, "--suite", "tiny", "--out", out)
    run = wait_for_trials(out, 2)
    wait_for_workers(run)
    proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=60)
    assert proc.returncode == (-9 if how == "SIGKILL" else 130)
    return run


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_resume_runs_only_the_trials_that_did_not_finish(tmp_path, tiny, root_ns_unchanged, how):
    run = _interrupt(tmp_path, tiny, how)
    before = journal(run)
    finished = [t for t in before if t["status"] != "interrupted"]
    assert 2 <= len(finished) < 6
    if how == "SIGKILL":   # the checkpoint written at the start holds the plan
        assert results_format.load_results(run / "results.json")["state"] == "running"
        assert mine(run)   # and the killed run's namespaces are still there
    proc = bench("run", "--resume", run)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(finished)} done before, resumed" in proc.stderr
    doc = results_format.load_results(run / "results.json")
    assert doc["state"] == "complete"
    # Every planned trial exactly once; the finished ones untouched.
    keys = sorted((t["protocol"], t["repeat"]) for t in doc["trials"])
    assert keys == sorted((p, r) for r in range(3) for p in ("tcp", "mptcp"))
    assert [(t["seq"], t["started_at"]) for t in doc["trials"][:len(finished)]] == \
        [(t["seq"], t["started_at"]) for t in finished]
    assert {t["status"] for t in doc["trials"]} <= MEASURED, [t["reason"] for t in doc["trials"]]
    assert journal(run)[:len(before)] == before          # the journal is only appended to
    assert doc["metadata"]["resumes"][0]["trials_kept"] == len(finished)
    assert "run complete" in (run / "report.md").read_text()
    assert not mine(run)


def _contents(run):
    """Every file of a run directory (report figures under plots/ too)."""
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_resume_refuses_a_run_whose_scenario_changed(tmp_path, tiny, root_ns_unchanged):
    run = _interrupt(tmp_path, tiny, "SIGINT")
    files = _contents(run)
    tiny.write_text(tiny.read_text().replace("rate_mbit = 100", "rate_mbit = 90"))
    proc = bench("run", "--resume", run)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: cannot resume {run}: scenario 'tiny' changed since the run started "
        "(links.0.rate_mbit: 100.0 then, 90.0 now); restore it or start a new run")
    assert _contents(run) == files
    assert not mine(run)


def test_a_second_run_is_refused_naming_the_first(tmp_path, tiny, root_ns_unchanged):
    first = start("run", "--scenario-file", tiny, "--suite", "tiny", "--out", tmp_path / "a")
    try:
        wait_for_namespaces(first.pid)
        (run,) = (tmp_path / "a").iterdir()
        before = netns.list_names()
        second = bench("run", "--scenario-file", tiny, "--suite", "tiny", "--out", tmp_path / "b")
        assert second.returncode == 2
        assert second.stderr.startswith(
            f"error: another benchmark run is going on this machine: run {run.name} "
            f"(pid {first.pid}, started ")
        assert f"writing to {run})" in second.stderr and second.stderr.count("\n") == 1
        assert not (tmp_path / "b").exists()
        assert not new_namespaces(before)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    # Once the first has ended, a run goes ahead.
    time.sleep(0.1)
    third = bench("run", "--scenario-file", tiny, "--suite", "tiny", "--repeat", "1",
                  "--out", tmp_path / "c")
    assert third.returncode == 0, third.stderr
