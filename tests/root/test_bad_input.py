"""Bad input, end to end: `python -m bench run` as a user runs it answers
with one sentence on stderr and exit status 2, and creates nothing — no
run directory, no namespace, no change to the root namespace."""

import os

import pytest
from clirun import bench, env_without, new_namespaces

from harness.host import netns

SCENARIO = '[scenario.x]\ndescription = "d"\nlinks = [{ rate_mbit = 10 }]\n'


@pytest.mark.parametrize("defs, args, fragment", [
    ("[scenario.x\n", ["--scenario", "x"], "not valid TOML"),
    (SCENARIO.replace("rate_mbit = 10", 'rate_mbit = 10, colour = "red"'), ["--scenario", "x"],
     "unknown key 'links.0.colour'"),
    (SCENARIO.replace("rate_mbit = 10", 'rate_mbit = "fast"'), ["--scenario", "x"],
     "links.0.rate_mbit: input should be a valid number"),
    (SCENARIO.replace("rate_mbit = 10", "rate_mbit = 0"), ["--scenario", "x"],
     "links.0.rate_mbit: input should be greater than 0"),
    (SCENARIO.replace("rate_mbit = 10", "rate_mbit = -5"), ["--scenario", "x"],
     "links.0.rate_mbit: input should be greater than 0"),
    (SCENARIO.replace("rate_mbit = 10", "loss_pct = 100"), ["--scenario", "x"],
     "links.0.loss_pct: input should be less than 100"),
    (SCENARIO.replace("rate_mbit = 10", "loss_pct = -1"), ["--scenario", "x"],
     "links.0.loss_pct: input should be greater than or equal to 0"),
    (SCENARIO.replace("[{ rate_mbit = 10 }]", "[" + "{}, " * 9 + "]"), ["--scenario", "x"],
     "links: tuple should have at most 8 items"),
    (SCENARIO, ["--scenario", "nope"], "unknown scenario 'nope'"),
    (SCENARIO, ["--suite", "nope"], "unknown suite 'nope'"),
    (SCENARIO + 'sysctls = { "net.mptcp.enabled" = 0 }\n', ["--scenario", "x"],
     "scenario 'x' sets net.mptcp.enabled=0 in its namespaces but runs MPTCP trials; remove "
     "that sysctl, or set protocols = [\"tcp\"]"),
    (SCENARIO + 'sysctls = { "net.mptcp.no_such_knob" = 1 }\n', ["--scenario", "x"],
     "scenario 'x': sysctl net.mptcp.no_such_knob does not exist on this kernel"),
    (SCENARIO + 'sysctls = { "net.mptcp.no_such_knob" = 1 }\n'      # a suite with nothing left
     '[suite.s]\ndescription = "d"\nscenarios = ["x"]\n', ["--suite", "s"],
     "scenario 'x': sysctl net.mptcp.no_such_knob does not exist on this kernel"),
    (SCENARIO + 'sysctls = { "net.mptcp.scheduler" = "no-such-scheduler" }\n', ["--scenario", "x"],
     "scenario 'x': sysctl net.mptcp.scheduler=no-such-scheduler: this kernel offers "),
    # Sysctls that are not the namespace's own: the host's, whatever a suite says.
    (SCENARIO + 'sysctls = { "kernel.panic" = "7" }\n', ["--scenario", "x"],
     "scenario 'x': sysctl kernel.panic is not per network namespace on this kernel"),
    (SCENARIO + 'sysctls = { "vm.swappiness" = 1 }\n'
     '[suite.s]\ndescription = "d"\nscenarios = ["x"]\n', ["--suite", "s"],
     "scenario 'x': sysctl vm.swappiness is not per network namespace on this kernel"),
    (SCENARIO + 'sysctls = { "net.ipv4.tcp_mem" = "1 2 3" }\n', ["--scenario", "x"],
     "scenario 'x': sysctl net.ipv4.tcp_mem exists only in the root network namespace"),
    (SCENARIO.replace("[scenario.x]", '[scenario."../../etc"]'), ["--scenario", "../../etc"],
     "scenario name '../../etc' is not allowed"),
    (SCENARIO.replace("rate_mbit = 10 }]", "rate_mbit = 10 }, {}]")
     + 'mptcp = { endpoints = [{ link = 1, flags = ["turbo"] }] }\n', ["--scenario", "x"],
     "mptcp.endpoints.0.flags.0: input should be 'signal', 'subflow', 'backup', 'fullmesh' or 'laminar'"),
    (SCENARIO.replace("rate_mbit = 10 }]", "rate_mbit = 10 }, {}]") + 'mptcp = { path_manager = '
     '"userspace", endpoints = [{ link = 1, flags = ["fullmesh"] }] }\n', ["--scenario", "x"],
     "the userspace path manager (mptcpd) opens one subflow per client endpoint and knows no flag "
     "fullmesh"),
    (SCENARIO, ["--scenario", "x", "--duration", "nan"], "argument --duration: 'nan'"),
    (SCENARIO, ["--scenario", "x", "--driver", "carrier-pigeon"], "unknown driver 'carrier-pigeon'"),
    (SCENARIO, ["--scenario", "x", "--out", "/proc/version/reports"],
     "cannot write run results under /proc/version/reports"),
    (SCENARIO, ["--resume", "/nonexistent/run"], "/nonexistent/run: no such run directory"),
])
def test_bad_input_is_one_sentence_exit_2_and_nothing_made(tmp_path, write_defs,
                                                           root_ns_unchanged, defs, args,
                                                           fragment):
    path = write_defs(defs)
    out = tmp_path / "reports"
    before = netns.list_names()
    extra = [] if "--out" in args or "--resume" in args else ["--out", out]
    if "--resume" in args:
        path_args = []
    else:
        path_args = ["--scenario-file", path]
    proc = bench("run", *path_args, *args, *extra)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert fragment in proc.stderr
    assert not out.exists() and not new_namespaces(before)


@pytest.mark.parametrize("tool, sentence", [
    ("iperf3", "the iperf3 driver needs iperf3, which is not on PATH: install the Debian "
               "package iperf3"),
    ("mptcpize", "the iperf3 driver needs mptcpize for MPTCP with iperf3 3.12 (--mptcp came in "
                 "3.19), and it is not on PATH: install the Debian package mptcpize"),
])
def test_the_iperf3_driver_without_its_tools_is_refused(tmp_path, root_ns_unchanged, tool,
                                                        sentence):
    from harness.traffic.drivers import iperf3
    if tool == "mptcpize" and iperf3.installed_version() >= (3, 19):
        pytest.skip("this iperf3 has --mptcp: mptcpize is not needed")
    # A PATH with every command of this machine except the tool.
    out = tmp_path / "reports"
    before = netns.list_names()
    proc = bench("run", "--suite", "quick", "--driver", "iperf3", "--out", out,
                 env=env_without(tool, tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"error: {sentence}"
    assert not out.exists() and not new_namespaces(before)


def test_the_userspace_path_manager_without_mptcpd_is_refused(tmp_path, root_ns_unchanged):
    out = tmp_path / "reports"
    before = netns.list_names()
    missing = tmp_path / "no-mptcpd"
    proc = bench("run", "--scenario", "pm-userspace", "--out", out,
                 env={**os.environ, "MPTCP_BENCH_MPTCPD": str(missing)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"error: scenario 'pm-userspace' needs pm-userspace (mptcpd is missing ({missing}, from "
        "MPTCP_BENCH_MPTCPD)): point MPTCP_BENCH_MPTCPD at an mptcpd binary")
    assert not out.exists() and not new_namespaces(before)
