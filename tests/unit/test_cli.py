"""Bad input: one sentence on stderr, exit status 2, nothing written."""
import pytest
from benchcli import bench

from bench.cli import main


@pytest.fixture
def out(tmp_path):
    return tmp_path / "reports"


@pytest.mark.parametrize("args, fragment", [
    (["run", "--suite", "nope"], "unknown suite 'nope'"),
    (["run", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["run", "--repeat", "0"], "argument --repeat: '0' is out of range"),
    (["run", "--duration", "-1"], "argument --duration: '-1' is out of range"),
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


def test_resume_takes_no_plan_options(capsys, tmp_path):
    assert main(["run", "--resume", str(tmp_path), "--suite", "quick", "--repeat", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --resume takes its plan and directory from the run; drop --suite, --repeat")


def test_resume_of_a_complete_run_is_refused(capsys, tmp_path):
    (tmp_path / "results.json").write_text('{"schema_version": 1, "run_id": "r", '
                                          '"state": "complete", "metadata": {}, "trials": []}')
    before = sorted(tmp_path.iterdir())
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "is a complete run: there is nothing to resume" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("err, fix", [
    ("EPROTONOSUPPORT", "this kernel has no MPTCP; boot a kernel built with CONFIG_MPTCP=y"),
    ("ENOPROTOOPT", "MPTCP is disabled by net.mptcp.enabled=0"),
])
def test_mptcp_absent_or_disabled_is_refused_before_anything_is_made(capsys, out, monkeypatch,
                                                                     err, fix):
    import errno
    import socket

    from harness.net import capabilities

    def no_mptcp(*args):
        if len(args) > 2 and args[2] == 262:
            raise OSError(getattr(errno, err), err)
        return real_socket(*args)
    real_socket = socket.socket
    monkeypatch.setattr(socket, "socket", no_mptcp)
    check = capabilities._mptcp_socket_check()
    monkeypatch.setattr(socket, "socket", real_socket)
    checks = {"root": capabilities.Check("root", True, "root"),
              "netns": capabilities.Check("netns", True, "yes"), "mptcp": check,
              "tbf": capabilities.Check("tbf", True, "yes")}
    monkeypatch.setattr(capabilities, "probe", lambda: checks)
    assert main(["run", "--suite", "quick", "--out", str(out)]) == 2
    msg = capsys.readouterr().err
    assert msg.startswith("error: suite 'quick' needs mptcp (socket(..., IPPROTO_MPTCP) failed: "
                          f"{err}): {fix}") and msg.count("\n") == 1
    assert not out.exists()


def test_an_error_prints_its_text_as_written(write_defs, out):
    """Text from files and exceptions is text: `[scenario.<name>]` in an error
    is not rich markup (it once printed as `no  or  table in it`)."""
    path = write_defs("")
    proc = bench("run", "--scenario-file", path, "--out", out, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: {path}: no [scenario.<name>] or [suite.<name>] table in it\n"


HOSTILE = "[red]x[/] :smile: [bold]"


def test_list_and_progress_print_file_text_as_written(capsys, write_defs, monkeypatch):
    from bench.run.progress import RunProgress, trial_line
    monkeypatch.setenv("COLUMNS", "400")        # no wrapping inside the table's cells
    path = write_defs(f'[scenario.x]\ndescription = "{HOSTILE}"\n'
                      'links = [{ rate_mbit = 10 }]\n')
    assert main(["list", "--scenario-file", str(path)]) == 0
    assert capsys.readouterr().out.count(HOSTILE) == 1
    RunProgress().console.print(trial_line({"scenario": HOSTILE, "protocol": "tcp", "repeat": 0,
                                            "status": "failed", "reason": HOSTILE}))
    assert capsys.readouterr().err.strip() == f"{HOSTILE:<22} TCP   #0   failed      — {HOSTILE}"


def test_doctor_prints_kernel_text_as_written(capsys, monkeypatch):
    from bench import doctor, term
    from harness.net.capabilities import Check
    monkeypatch.setenv("COLUMNS", "400")
    term.console().print(doctor.table({"x": Check(HOSTILE, False, HOSTILE, fix=HOSTILE)}))
    text = capsys.readouterr().out
    assert text.count(HOSTILE) == 3 and " no " in text


def _checks(missing: set[str]) -> dict:
    """What `capabilities.probe` answers on a kernel lacking `missing`."""
    from harness.net.capabilities import Check
    names = ("root", "netns", "mptcp", "tbf", "htb", "netem", "nftables", "tcpoptstrip",
             "delay:host", "delay:netem", "delay", "iperf3", "mptcpize")
    return {n: Check(n, n not in missing, "no" if n in missing else "yes", f"install {n}")
            for n in names}


@pytest.mark.parametrize("suite, missing, need", [
    ("quick", {"tbf"}, "tbf"),
    ("paths", {"netem", "delay:netem", "delay:host", "delay"}, "delay"),
])
def test_doctor_exits_2_when_the_suite_cannot_run_here(capsys, monkeypatch, suite, missing, need):
    """README: `doctor --suite NAME` exits 2 if the suite cannot run; the
    same suite on a kernel with everything exits 0 (the control)."""
    from bench import doctor
    from harness.net import capabilities
    monkeypatch.setattr(doctor.sockopts, "probe", lambda: {})     # a real probe needs root
    monkeypatch.setattr(capabilities, "probe", lambda: _checks(missing))
    assert main(["doctor", "--suite", suite]) == 2
    assert capsys.readouterr().err == f"error: suite {suite!r} needs {need} (no): install {need}\n"
    monkeypatch.setattr(capabilities, "probe", lambda: _checks(set()))
    assert main(["doctor", "--suite", suite]) == 0
    assert f"suite {suite!r} can run here." in capsys.readouterr().out
