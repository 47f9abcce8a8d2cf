"""`bench compare` and `bench gate` on real runs: exit codes, text, JSON."""
import json

import pytest
from benchcli import bench

from bench.cli import main


@pytest.fixture
def runs(data_dir):
    return str(data_dir / "runs" / "quick-a"), str(data_dir / "runs" / "quick-b")


def test_compare_two_real_runs(runs, capsys):
    assert main(["compare", *runs]) == 0
    out = capsys.readouterr().out
    assert out.startswith("base 20261129-000920-a1bc")
    assert "aggregate-2x TCP goodput: " in out and "(n 2/2)" in out
    assert "note: load average at start" in out


def test_gate_on_two_repeat_runs_judges_nothing_and_says_why(runs, capsys):
    assert main(["gate", *runs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(l.startswith("not judged: aggregate-2x TCP goodput has 2 vs 2 ok trials") for l in lines)
    assert lines[-1].startswith("gate passed: 0 regression(s)")


def test_gate_json(runs, capsys):
    assert main(["gate", *runs, "--json", "--max-regression", "goodput_bps=1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "passed" and out["thresholds"]["goodput_bps"] == 1
    assert out["comparison"]["base"]["run_id"] == "20261129-000920-a1bc"


def test_incomparable_runs_exit_2_unless_forced(runs, tmp_path, capsys, data_dir):
    cand = tmp_path / "cand"
    doc = json.loads((data_dir / "runs" / "quick-b" / "results.json").read_text())
    doc["scenarios"]["aggregate-2x"]["definition"]["links"][1]["rate_mbit"] = 40.0
    cand.mkdir()
    (cand / "results.json").write_text(json.dumps(doc))
    assert main(["compare", runs[0], str(cand)]) == 2
    captured = capsys.readouterr()
    assert ("INCOMPARABLE: scenario definition (scenarios.aggregate-2x.definition.links.1.rate_mbit): "
            "50 → 40") in captured.out
    assert "pass --force" in captured.err
    assert main(["gate", runs[0], str(cand)]) == 2
    assert main(["gate", runs[0], str(cand), "--force"]) == 0


def test_bad_input_exits_2_with_one_sentence(runs, capsys, tmp_path):
    assert main(["gate", *runs, "--max-regression", "speed=5"]) == 2
    assert "expected METRIC=PCT with METRIC one of goodput_bps" in capsys.readouterr().err
    assert main(["compare", runs[0], str(tmp_path)]) == 2
    assert "is this a run directory?" in capsys.readouterr().err


@pytest.fixture
def aa_and_ab(tmp_path):
    """Three synthetic runs written as a run writes them: a base, the same
    again (another seed) and one that lost 5 % of its goodput."""
    import synthetic

    from bench.run.rundir import RunDir
    paths = {}
    for name, seed, shift in (("base", 1, 1.0), ("same", 2, 1.0), ("worse", 3, 0.95)):
        doc = synthetic.big_doc(240, seed, scenarios=2, shift=shift)
        rd = RunDir(tmp_path, doc["run_id"]).create()
        rd.write_results(doc)
        rd.write_csv(doc["trials"])
        paths[name] = str(rd.path)
    return paths


def test_gate_exits_1_through_the_command_line_when_the_candidate_regressed(aa_and_ab):
    """README: `bench gate BASE CAND` exits 1 on a regression — as a user's
    CI job calls it, a process of its own; the same runs again pass (0)."""

    def gate(base, cand):
        return bench("gate", base, cand, timeout=120)
    worse = gate(aa_and_ab["base"], aa_and_ab["worse"])
    assert worse.returncode == 1, worse.stderr
    assert worse.stdout.splitlines()[-1].startswith("gate FAILED: ")
    assert "goodput" in worse.stdout
    same = gate(aa_and_ab["base"], aa_and_ab["same"])
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.splitlines()[-1].startswith("gate passed: 0 regression(s)")
