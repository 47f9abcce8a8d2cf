"""A hosts run's path survey, its Hosts report section and the zero-copy
counts of a zerocopy-mode trial, between the sshd "hosts" of
tests/root/sshhosts.py (two paths shaped to 50 Mbit/s on their router
namespace, which the inventory does not name: the run shapes nothing)."""
from __future__ import annotations

import json
import os

import pytest
from sshhosts import SshHosts, require_tools
from test_hosts import controller

from bench import results_format
from bench.hosts import install

RATE_MBIT = 50
# A 2-s probe on a machine shared with other root tests: within 10 % of
# the shaped rate (tbf's wire rate, which the survey infers from goodput).
TOLERANCE = 0.10


@pytest.fixture(scope="module", autouse=True)
def _sshd_and_asyncssh():
    require_tools()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One hosts run of mode-zerocopy and mode-io_uring_zc (TCP and MPTCP,
    one repeat each)."""
    cache = tmp_path_factory.mktemp("bundles")
    old = os.environ.get(install.CACHE_ENV)
    os.environ[install.CACHE_ENV] = str(cache)
    try:
        install.bundle()
        tmp = tmp_path_factory.mktemp("hosts")
        with SshHosts(tmp, rate_mbit=RATE_MBIT) as hosts:
            inventory = tmp / "inventory.toml"
            inventory.write_text(hosts.inventory(tmp / "install"))
            out = tmp / "runs"
            done = controller(hosts, "run", "--hosts", inventory, "--scenario", "mode-zerocopy",
                              "--scenario", "mode-io_uring_zc", "--warmup", "0", "--repeat", "1",
                              "--duration", "2", "--out", out)
            assert done.returncode == 0, done.stderr
            # The console says what the survey found before the first scenario.
            assert "surveying 2 path(s)" in done.stderr and "path 1 (198.18.1.1 -> 198.19.1.1): TCP " in done.stderr
            yield (out / "latest").resolve()
    finally:
        if old is None:
            del os.environ[install.CACHE_ENV]
        else:
            os.environ[install.CACHE_ENV] = old


def test_the_survey_measures_each_paths_capacity_and_rtt(run):
    doc = results_format.load_results(run / "results.json")
    lane = doc["metadata"]["lane"]
    survey = lane["survey"]
    print(json.dumps([{k: p[k] for k in ("path", "bulk", "rr")} for p in survey["paths"]]))
    assert [p["path"] for p in survey["paths"]] == [0, 1]
    for p in survey["paths"]:
        assert p["bulk"]["status"] == "ok" and p["rr"]["status"] == "ok", p
        assert abs(p["bulk"]["capacity_mbit"] / RATE_MBIT - 1) <= TOLERANCE, p["bulk"]
        assert p["rr"]["p50_us"] > 0 and p["rr"]["srtt_us"] > 0
        assert p["mtu"] == 1500
        assert p["ends"]["client"]["kind"] == "veth" and p["ends"]["client"]["ifname"] == f"c{p['path']}"
    assert set(survey["clocks"]) == {"clienthost", "serverhost"}
    assert lane["link_model"] == "surveyed"


def test_the_surveyed_capacity_is_the_limit_and_nothing_looks_shaped(run):
    doc = results_format.load_results(run / "results.json")
    path0 = doc["metadata"]["lane"]["survey"]["paths"][0]["bulk"]["goodput_bps"]
    tcp = [t for t in doc["trials"] if t["protocol"] == "tcp"]
    assert tcp and all(t["expected_goodput_bps"] == pytest.approx(path0) for t in tcp)
    links = doc["scenarios"]["mode-zerocopy"]["definition"]["links"]
    assert all(link["rate_mbit"] is None and "surveyed_mbit" not in link for link in links)
    readback = doc["scenarios"]["mode-zerocopy"]["readback"]
    assert "qdiscs" not in readback        # no router configured: nothing shaped


def test_the_report_opens_with_the_hosts_and_the_survey(run):
    text = (run / "report.md").read_text()
    first = next(line for line in text.splitlines() if line.startswith("## "))
    assert first == "## Hosts"
    hosts = text.split("## Hosts", 1)[1].split("\n## ", 1)[0]
    assert "Path survey" in hosts and "clienthost" in hosts and "veth (virtual)" in hosts
    assert "Link model **surveyed**" in hosts


@pytest.mark.parametrize("mode", ["zerocopy", "io_uring_zc"])
def test_zero_copy_sends_are_counted_and_copied_on_veth(run, mode):
    doc = results_format.load_results(run / "results.json")
    tcp = [t for t in doc["trials"] if t["protocol"] == "tcp" and t["scenario"] == f"mode-{mode}"]
    send = tcp[0]["mode_support"]["send"]
    print(json.dumps(send))
    assert send["mode"] == mode and send["zc_completions"] > 0
    assert send["zc_copied"] == send["zc_completions"]     # veth copies every one (KERNEL_NOTES)
    text = (run / "report.md").read_text().split("## Hosts", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in text.splitlines() if f"| {mode} | TCP |" in line)
    assert "clienthost: c0 (veth (virtual))" in row and "0.0% (all copied)" in row
    assert f"| {send['zc_completions']} | {send['zc_copied']} |" in row
