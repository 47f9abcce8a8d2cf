"""Bad input: one sentence on stderr, exit status 2, nothing written."""
import pytest

from bench.cli import main


@pytest.fixture
def out(tmp_path):
    return tmp_path / "reports"


@pytest.mark.parametrize("args, fragment", [
    (["run", "--suite", "nope"], "unknown suite 'nope'"),
    (["run", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["run", "--repeat", "0"], "--repeat must be positive"),
    (["run", "--duration", "-1"], "--duration must be positive"),
    (["run", "--driver", "carrier-pigeon"], "unknown driver 'carrier-pigeon'"),
    (["doctor", "--suite", "nope"], "unknown suite 'nope'"),
])
def test_bad_arguments(capsys, out, args, fragment):
    assert main([*args, *(["--out", str(out)] if args[0] == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_scenario_file(capsys, out, write_defs):
    path = write_defs('[scenario.x]\ndescription = "d"\nlinks = [{ rate_mbit = -3 }]\n')
    assert main(["run", "--scenario-file", str(path), "--scenario", "x", "--out", str(out)]) == 2
    assert "rate_mbit: input should be greater than 0" in capsys.readouterr().err
    assert not out.exists()


def test_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["run", "--suite", "quick", "--out", str(blocker / "reports")]) == 2
    assert "not a writable directory" in capsys.readouterr().err


def test_report_of_a_directory_that_is_no_run(capsys, tmp_path):
    assert main(["report", str(tmp_path)]) == 2
    assert "is this a run directory?" in capsys.readouterr().err


def test_list_shows_scenarios_and_suites(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "aggregate-2x" in text and "default" in text and "quick" in text


def test_repeat_below_the_suites_minimum_is_refused(capsys, out):
    assert main(["run", "--suite", "default", "--repeat", "2", "--out", str(out)]) == 2
    assert "needs at least 5 repeats" in capsys.readouterr().err
