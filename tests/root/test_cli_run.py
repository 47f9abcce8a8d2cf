"""`python -m bench` end to end, as a user runs it: real processes, real
namespaces, real signals."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from clirun import (
    MEASURED,
    bench,
    bench_without_netem,
    journal,
    mine,
    new_namespaces,
    start,
    wait_for_namespaces,
    wait_for_trials,
    wait_for_workers,
)

from bench import results_format
from harness import ownership
from harness.host import netns


def test_quick_suite_writes_a_complete_run_directory(tmp_path, root_ns_unchanged):
    out = tmp_path / "reports"
    proc = bench("run", "--suite", "quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    run = (out / "latest").resolve()
    assert run.parent == out.resolve()
    doc = results_format.load_results(run / "results.json")
    assert doc["schema_version"] == results_format.SCHEMA_VERSION and doc["state"] == "complete"
    trials = doc["trials"]
    assert len(trials) == 2 * 2 * 2  # scenarios x repeats x protocols
    assert [json.loads(l)["seq"] for l in (run / "trials.jsonl").read_text().splitlines()] == \
        [t["seq"] for t in trials]
    # Interleaved: TCP, MPTCP, TCP, MPTCP... within each scenario.
    assert [t["protocol"] for t in trials[:4]] == ["tcp", "mptcp", "tcp", "mptcp"]
    df = pd.read_csv(run / "trials.csv")
    assert set(results_format.CORE_COLUMNS) <= set(df.columns) and len(df) == len(trials)
    # A stall is a finding, not a failure (KERNEL_NOTES: MPTCP stalls happen here).
    assert set(df["status"]) <= MEASURED, df[["scenario", "protocol", "status", "reason"]]
    assert set(df[(df["status"] == "ok") & (df["protocol"] == "tcp")]["scenario"]) == {
        "single-link", "aggregate-2x"}       # TCP has its baseline in every scenario
    meta = doc["metadata"]
    assert meta["kernel"]["release"] == os.uname().release
    agg = doc["scenarios"]["aggregate-2x"]["readback"]
    assert agg["qdiscs"]["rs0"][0]["kind"] == "tbf"
    assert agg["sysctls"]["client"]["net.mptcp.enabled"] == "1"
    report = (run / "report.md").read_text()
    assert "## Answer" in report and "**aggregate-2x**: MPTCP goodput ×" in report
    # single-link is unshaped: its MPTCP trials may stall; counted and shown, whatever came.
    for name, g in df[df["protocol"] == "mptcp"].groupby("scenario"):
        ok, stalled = (int((g["status"] == s).sum()) for s in ("ok", "stalled"))
        assert f"{ok}/2 MPTCP trials verified, 0 fallback, {stalled} stalled" in report, name
    assert (run / "report.html").stat().st_size > 10_000 and (run / "plots" / "overview.png").exists()


def test_not_root_is_refused_before_anything_is_made():
    out = Path(f"/tmp/mpb-nobody-{os.getpid()}")   # writable for nobody: only root is missing
    proc = bench("run", "--out", out, timeout=60,
                 wrap=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: suite 'default' needs root (not root): "
                                   "run as root: benchmarks create network namespaces")
    assert not out.exists()


def test_a_netem_scenario_without_netem_is_refused_naming_the_qdisc(tmp_path, write_defs):
    defs = write_defs('[scenario.wan]\ndescription = "d"\nlinks = [{ rate_mbit = 10, delay_ms = 20 }]\n')
    out = tmp_path / "reports"
    before = netns.list_names()
    proc = bench_without_netem("run", "--scenario-file", str(defs), "--scenario", "wan",
                               "--delay-backend", "netem", "--out", str(out))
    assert proc.returncode == 2
    assert "needs delay:netem" in proc.stderr and "sch_netem" in proc.stderr
    assert not out.exists() and not new_namespaces(before)


@pytest.mark.parametrize("sig, status, driver", [(signal.SIGINT, 130, "native"),
                                                 (signal.SIGTERM, 143, "native"),
                                                 (signal.SIGINT, 130, "iperf3")])
def test_a_signal_during_a_trial_ends_the_run_in_order(tmp_path, root_ns_unchanged, sig, status,
                                                       driver):
    out = tmp_path / "reports"
    proc = start("run", "--suite", "quick", "--driver", driver, "--out", out)
    run = wait_for_trials(out, 1)
    workers = wait_for_workers(run)              # the second trial is under way
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "interrupted:" in err and f"Report: {run}/report.md" in err
    doc = results_format.load_results(run / "results.json")
    assert doc["state"] == "interrupted"
    # Every finished trial was journaled as it ended; the one cut short says so.
    lines = journal(run)
    assert [t["seq"] for t in lines] == [t["seq"] for t in doc["trials"]]
    assert len(lines) >= 2 and {t["status"] for t in lines[:-1]} <= MEASURED
    assert lines[-1]["status"] == "interrupted"
    assert lines[-1]["reason"] == f"interrupted by {sig.name}"
    report = (run / "report.md").read_text()
    assert "run interrupted" in report and f"**interrupted** — interrupted by {sig.name}" in report
    assert not mine(run) and not any(ownership.alive(pid) for pid in workers)


@pytest.mark.parametrize("driver", ["native", "iperf3"])
def test_clean_removes_what_a_killed_run_left_and_nothing_else(tmp_path, root_ns_unchanged,
                                                               driver):
    # Not the project's: a namespace without its prefix, with a process in it.
    decoy = f"decoy{os.getpid()}"
    subprocess.run(["ip", "netns", "add", decoy], check=True)
    bystander = subprocess.Popen(netns.command(decoy, ["sleep", "120"]))
    try:
        victim = start("run", "--suite", "quick", "--driver", driver, "--out", tmp_path / "a")
        names = wait_for_namespaces(victim.pid)
        wait_for_workers(wait_for_trials(tmp_path / "a", 1))   # a trial is under way
        # While the run is alive, clean leaves it alone.
        proc = bench("clean")
        assert proc.returncode == 0 and "still going" in proc.stdout
        assert all(netns.exists(n) for n in names)
        victim.kill()
        victim.communicate(timeout=30)
        assert all(netns.exists(n) for n in names)   # SIGKILL leaves the namespaces...
        deadline = time.monotonic() + 5
        while netns.pids_in(names) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not netns.pids_in(names)              # ...but no process: they die with it
        proc = bench("clean")
        assert proc.returncode == 0, proc.stderr
        assert not any(netns.exists(n) for n in names)
        assert "removed 3 namespace(s)" in proc.stdout
        assert os.path.exists(netns.path(decoy)) and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        subprocess.run(["ip", "netns", "delete", decoy], check=True)


def test_a_suite_skips_what_this_kernel_cannot_run_and_says_so(tmp_path, write_defs):
    defs = write_defs('[scenario.netem-only]\ndescription = "d"\ndelay_backend = "netem"\n'
                      'links = [{ rate_mbit = 10, delay_ms = 5 }]\n'
                      '[suite.mixed]\ndescription = "d"\nscenarios = ["netem-only", "shaped-1x"]\n'
                      'repeat = 1\nwarmup = 0\nduration_s = 1\n')
    out = tmp_path / "reports"
    proc = bench_without_netem("run", "--scenario-file", str(defs), "--suite", "mixed",
                               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = results_format.load_results(out / "latest" / "results.json")
    assert doc["scenarios"]["netem-only"]["state"] == "skipped"
    skipped = [t for t in doc["trials"] if t["scenario"] == "netem-only"]
    assert {t["status"] for t in skipped} == {"skipped"} and len(skipped) == 2
    assert "kernel lacks sch_netem" in skipped[0]["reason"] and "--kernel IMAGE" in skipped[0]["reason"]
    assert {t["status"] for t in doc["trials"] if t["scenario"] == "shaped-1x"} <= MEASURED
