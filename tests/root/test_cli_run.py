"""`python -m bench` end to end, as a user runs it: real processes, real
namespaces, real signals."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench import schema
from harness import capabilities, netns

ROOT = Path(__file__).resolve().parents[2]


def bench(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=kw.pop("timeout", 300), **kw)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_namespaces(owner_pid: int, timeout: float = 30) -> list[str]:
    from harness import runs
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owners = {e["owner"] for e in runs.live_owners() if e["pid"] == owner_pid}
        names = [n for n in netns.list_names() if any(f"-{o}-" in n for o in owners)]
        if len(names) == 3:
            return names
        time.sleep(0.05)
    raise AssertionError("the run never built its topology")


def test_quick_suite_writes_a_complete_run_directory(tmp_path):
    out = tmp_path / "reports"
    proc = bench("run", "--suite", "quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    run = (out / "latest").resolve()
    assert run.parent == out.resolve()
    doc = schema.load_results(run / "results.json")
    assert doc["schema_version"] == schema.SCHEMA_VERSION and doc["state"] == "complete"
    trials = doc["trials"]
    assert len(trials) == 2 * 2 * 2  # scenarios x repeats x protocols
    assert [json.loads(l)["seq"] for l in (run / "trials.jsonl").read_text().splitlines()] == \
        [t["seq"] for t in trials]
    # Interleaved: TCP, MPTCP, TCP, MPTCP... within each scenario.
    assert [t["protocol"] for t in trials[:4]] == ["tcp", "mptcp", "tcp", "mptcp"]
    df = pd.read_csv(run / "trials.csv")
    assert set(schema.CORE_COLUMNS) <= set(df.columns) and len(df) == len(trials)
    # A stall is a finding, not a failure (KERNEL_NOTES: MPTCP stalls happen here).
    assert set(df["status"]) <= {"ok", "stalled"}, df[["scenario", "protocol", "status", "reason"]]
    assert len(df[df["status"] == "ok"].groupby(["scenario", "protocol"])) == 4
    meta = doc["metadata"]
    assert meta["kernel"]["release"] == os.uname().release
    agg = doc["scenarios"]["aggregate-2x"]["readback"]
    assert agg["qdiscs"]["rs0"][0]["kind"] == "tbf"
    assert agg["sysctls"]["client"]["net.mptcp.enabled"] == "1"
    report = (run / "report.md").read_text()
    assert "## Answer" in report and "**aggregate-2x**: MPTCP goodput ×" in report
    assert "MPTCP trials verified, 0 fallback" in report


def test_not_root_is_refused_before_anything_is_made():
    out = Path(f"/tmp/mpb-nobody-{os.getpid()}")   # writable for nobody: only root is missing
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "bench", "run", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: suite 'default' needs root (not root): "
                                   "run as root: benchmarks create network namespaces")
    assert not out.exists()


def test_a_delay_scenario_without_netem_is_refused_naming_the_qdisc(tmp_path, write_defs):
    if capabilities.probe()["netem"].ok:
        pytest.skip("this kernel has netem: the refusal cannot happen here")
    defs = write_defs('[scenario.wan]\ndescription = "d"\nlinks = [{ rate_mbit = 10, delay_ms = 20 }]\n')
    out = tmp_path / "reports"
    before = netns.list_names()
    proc = bench("run", "--scenario-file", str(defs), "--scenario", "wan", "--out", str(out))
    assert proc.returncode == 2
    assert "needs netem" in proc.stderr and "sch_netem" in proc.stderr
    assert not out.exists() and netns.list_names() == before


def test_sigint_interrupts_cleanly_and_keeps_what_finished(tmp_path):
    out = tmp_path / "reports"
    proc = start("run", "--suite", "quick", "--out", str(out))
    wait_for_namespaces(proc.pid)
    run = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # wait for a first finished trial
        runs_ = list(out.glob("*/trials.jsonl"))
        if runs_ and runs_[0].read_text().count("\n") >= 1:
            run = runs_[0].parent
            break
        time.sleep(0.1)
    assert run is not None
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    doc = schema.load_results(run / "results.json")
    assert doc["state"] == "interrupted"
    statuses = [t["status"] for t in doc["trials"]]
    assert statuses[-1] == "interrupted" and statuses[0] != "interrupted"
    assert (run / "report.md").exists()
    assert not [n for n in netns.list_names() if run.name in n]


def test_clean_removes_what_a_killed_run_left_and_spares_live_runs(tmp_path):
    victim = start("run", "--suite", "quick", "--out", str(tmp_path / "a"))
    names = wait_for_namespaces(victim.pid)
    # While the run is alive, clean leaves it alone.
    proc = bench("clean")
    assert proc.returncode == 0 and "still going" in proc.stdout
    assert all(netns.exists(n) for n in names)
    victim.kill()
    victim.communicate(timeout=30)
    assert all(netns.exists(n) for n in names)   # SIGKILL leaves the namespaces
    time.sleep(0.5)                               # workers die with their parent
    assert not netns.pids_in(names)
    proc = bench("clean")
    assert proc.returncode == 0, proc.stderr
    assert not any(netns.exists(n) for n in names)
    assert "removed 3 namespace(s)" in proc.stdout


def test_a_suite_skips_what_this_kernel_cannot_run_and_says_so(tmp_path, write_defs):
    if capabilities.probe()["netem"].ok:
        pytest.skip("this kernel has netem: nothing to skip")
    defs = write_defs('[suite.mixed]\ndescription = "d"\nscenarios = ["heterogeneous", "single-link"]\n'
                      'repeat = 1\nwarmup = 0\nduration_s = 1\n')
    out = tmp_path / "reports"
    proc = bench("run", "--scenario-file", str(defs), "--suite", "mixed", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = schema.load_results(out / "latest" / "results.json")
    assert doc["scenarios"]["heterogeneous"]["state"] == "skipped"
    skipped = [t for t in doc["trials"] if t["scenario"] == "heterogeneous"]
    assert {t["status"] for t in skipped} == {"skipped"} and len(skipped) == 2
    assert "kernel lacks sch_netem" in skipped[0]["reason"] and "--kernel IMAGE" in skipped[0]["reason"]
    assert {t["status"] for t in doc["trials"] if t["scenario"] == "single-link"} == {"ok"}
