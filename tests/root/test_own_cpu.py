"""The trial's own CPU on real runs: measured in a cgroup that is gone
afterwards; a CPU-bound neighbour makes a trial disturbed and re-run, and
--quiet-machine refuses to start beside it."""
import os
import signal
import subprocess
import sys

import pytest
from clirun import bench, journal

from bench import results_format
from harness.measure import cgroupcpu, cpustat

ARGS = ("run", "--scenario", "aggregate-2x", "--repeat", "1", "--warmup", "0")


def _cgroups(run_id: str) -> list[str]:
    return [p.name for p in cgroupcpu.leftovers() if run_id in p.name]


def test_the_trial_cpu_is_its_own_and_its_cgroup_is_removed(tmp_path):
    proc = bench(*ARGS, "--duration", "2", "--disturbed-above", "200", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = (tmp_path / "latest").resolve()
    trials = results_format.load_results(run / "results.json")["trials"]
    assert [t["status"] for t in trials] == ["ok", "ok"], [t["reason"] for t in trials]
    # /proc/stat counts whole ticks per CPU and field, the cgroup nanoseconds:
    # on a quiet machine the two meet within a few ticks, either way.
    slack = 4 * os.cpu_count() * cpustat.TICK_S
    for t in trials:
        assert 0 < t["cpu_own_s"] < t["cpu_machine_s"] + slack, t["cpu_accounting"]
        assert t["cpu_own_s_per_gb"] > 0 and t["cpu_foreign_s"] >= 0
        assert t["attempt"] == 1
    assert _cgroups(run.name) == []
    assert "## The machine" in (run / "report.md").read_text().split("## Answer")[0]


@pytest.fixture
def busy_neighbour():
    """One CPU-bound process at normal priority, as in the issue; ended by PID."""
    proc = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    yield proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_busy_neighbour_makes_trials_disturbed_and_re_run(tmp_path, busy_neighbour):
    proc = bench(*ARGS, "--duration", "1", "--retries", "1", "--disturbed-above", "3",
                 "--out", tmp_path)
    # Every try disturbed: no clean trial of either protocol, so exit 1 (with
    # one clean try per protocol it would be 0: test_the_trial_cpu...).
    assert proc.returncode in (0, 1), proc.stderr
    assert "warning: the machine is already busy" in proc.stderr
    run = (tmp_path / "latest").resolve()
    tries = journal(run)
    first = [t for t in tries if t["attempt"] == 1]
    assert [t["status"] for t in first] == ["disturbed", "disturbed"], tries
    assert {t["attempt"] for t in tries} == {1, 2}                  # each re-run once
    assert all(t["cpu_foreign_share"] > 0.5 for t in first)          # most of one CPU
    assert any(comm == "python3" or comm.startswith("python")
               for t in first for comm, _ in t["cpu_accounting"]["top_foreign"])
    section = (run / "report.md").read_text().split("## Answer")[0]
    assert "machine was **busy**" in section and "| aggregate-2x | TCP | 0 | 2 |" in section


def test_quiet_machine_refuses_beside_a_busy_neighbour(tmp_path, busy_neighbour):
    proc = bench(*ARGS, "--quiet-machine", "--disturbed-above", "3", "--out", tmp_path / "r")
    assert proc.returncode == 2
    assert "--quiet-machine refuses" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
