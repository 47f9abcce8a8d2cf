"""A suite with candidate engine modes calibrates at each scenario's start,
uses the choice for its measured trials, and says so."""
import json

from clirun import bench

SUITE = ('[scenario.c]\ndescription = "d"\nlinks = [{ rate_mbit = 100 }]\n'
         '[suite.c]\ndescription = "d"\nscenarios = ["c"]\nrepeat = 1\nwarmup = 0\n'
         'duration_s = 0.5\n'
         'driver_modes = { native = { recv_mode = "trunc", candidates = [{ recv_lowat_kib = 0 },'
         ' { recv_lowat_kib = 64 }], calibration_trials = 1, calibration_s = 0.3 } }\n')


def test_the_measured_trials_use_the_modes_the_calibration_chose(tmp_path, write_defs,
                                                                root_ns_unchanged):
    proc = bench("run", "--scenario-file", write_defs(SUITE), "--suite", "c", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("calibrated c native ") == 2
    run = next(p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    doc = json.loads((run / "results.json").read_text())
    done = doc["scenarios"]["c"]["calibration"]["native"]
    assert set(done) == {"tcp", "mptcp"}
    for trial in doc["trials"]:                 # only the measured ones are trials
        chosen = done[trial["protocol"]]["chosen"]
        assert trial["recv_mode"] == "trunc"
        assert trial["recv_lowat_kib"] == chosen["recv_lowat_kib"]
        assert len(done[trial["protocol"]]["candidates"]) == 2
    assert len(doc["trials"]) == 2
    assert "Engine modes chosen by a calibration" in (run / "report.md").read_text()
