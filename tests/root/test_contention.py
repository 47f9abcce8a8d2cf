"""A scenario's competing CPU load on a real topology: started and ended per
trial by PID, pinned where asked, neither the trial's own CPU nor foreign."""
import os

import clirun
import onetrial


def test_the_load_spins_beside_the_trial_and_is_neither_own_nor_foreign(catalog):
    s = catalog.scenario("aggregate-2x-load-receiver")      # shaped: MPTCP does not stall
    tcp, mptcp = onetrial.on_own_topology(s, ("tcp", "mptcp"), 1.5, "ld")
    for rec in (tcp, mptcp):
        assert rec["status"] in ("ok", "stalled"), rec["reason"]
        load = rec["cpu_accounting"]["load"]
        assert load["cpus"] == [1]                           # the receiver's CPU (split)
        # The spinning process ran for much of the window, outside the cgroup:
        # far more than a 50 Mbit/s transfer's own CPU, and out of foreign.
        assert rec["cpu_load_s"] > 0.3 and rec["cpu_own_s"] < rec["cpu_load_s"]
        acc = rec["cpu_accounting"]
        assert rec["cpu_foreign_s"] <= acc["machine_s"] - rec["cpu_own_s"] - rec["cpu_load_s"] + 0.05


def test_no_load_process_outlives_its_trial(catalog):
    s = catalog.scenario("aggregate-2x-load-both")
    (rec,) = onetrial.on_own_topology(s, ("tcp",), 1.0, "lb")
    load = rec["cpu_accounting"]["load"]
    assert load["cpus"] == [0, 1] and len(load["pids"]) == 2
    assert not any(os.path.exists(f"/proc/{pid}") for pid in load["pids"])


def test_a_run_reports_each_protocol_under_the_load_against_no_load(tmp_path, write_defs):
    # The contention suite's shape, cut to one shaped pair: the report's part
    # end to end (the whole suite takes minutes).
    defs = write_defs('[suite.c]\ndescription = "d"\nscenarios = ["aggregate-2x", '
                      '"aggregate-2x-load-sender"]\nrepeat = 1\nwarmup = 0\nduration_s = 1\n')
    proc = clirun.bench("run", "--scenario-file", defs, "--suite", "c", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (next(tmp_path.glob("*/report.md"))).read_text()
    part = text[text.index("## Under CPU contention"):]
    assert "| aggregate-2x | no load |" in part
    assert "| aggregate-2x | the sender's CPU |" in part and "1/1 ok" in part
    trials = clirun.journal(next(tmp_path.glob("*/trials.jsonl")).parent)
    loaded = [t for t in trials if t["scenario"] == "aggregate-2x-load-sender"]
    assert loaded and all(t["cpu_load_s"] for t in loaded)
    assert all(t["cpu_load_s"] is None for t in trials if t["scenario"] == "aggregate-2x")
