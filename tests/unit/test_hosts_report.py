"""The report of a hosts run (bench/report/hosts.py) on a captured results
document: a `run --hosts` of mode-zerocopy between the sshd namespaces of
tests/root/sshhosts.py (two paths shaped to 50 Mbit/s on their router,
which the run did not configure), and variants of it as a real NIC would
record them."""
import copy
import json

import pytest

from bench.report import build, hosts


@pytest.fixture
def doc(data_dir):
    return json.loads((data_dir / "runs" / "hosts-zerocopy" / "results.json").read_text())


def _hosts_section(doc) -> str:
    return build.markdown(doc).split("## Hosts", 1)[1].split("\n## ", 1)[0]


def test_a_hosts_run_opens_with_its_hosts(doc):
    text = build.markdown(doc)
    assert [l for l in text.splitlines() if l.startswith("## ")][:2] == ["## Hosts", "## The machine"]
    section = _hosts_section(doc)
    assert "| clienthost | client | 6.18.44-fc-v1300 (x86_64) | 2 |" in section
    assert "| clienthost | c0 | veth (virtual) | 1500 | not read (no ethtool) | noqueue |" in section
    assert ("| 0 | 198.18.0.1 (c0) → 198.19.0.1 (s0) | 1500 | 47.7 Mbit/s | 49.9 Mbit/s | "
            "7 µs [28 µs] | 7 µs | 14.3 ms | 287 |") in section
    assert "Link model **surveyed**: nothing is shaped" in section


def test_the_limit_is_said_to_come_from_the_survey(doc):
    text = build.markdown(doc)
    assert "Goodput limit from the path survey (nothing shaped): TCP 47.7 Mbit/s, 100% achieved" in text
    assert "Link-model goodput limit" not in text


def test_veth_copies_every_zero_copy_send_and_the_report_says_so(doc):
    rows = [l for l in _hosts_section(doc).splitlines() if "| zerocopy |" in l]
    assert rows == ["| clienthost: c0 (veth (virtual)) | zerocopy | TCP | 1 | 99 | 99 | 0.0% (all copied) |",
                    "| clienthost: c0 (veth (virtual)) | zerocopy | MPTCP | 1 | – | – | "
                    "unsupported in 1 of 1 trial(s) |"]


def test_a_real_nic_shows_the_share_really_sent_without_a_copy(doc):
    real = copy.deepcopy(doc)
    real["metadata"]["lane"]["hosts"]["clienthost"]["nics"]["c0"].update(driver="ixgbe", kind=None)
    tcp = next(t for t in real["trials"] if t["protocol"] == "tcp")
    tcp["mode_support"]["send"].update(zc_completions=200, zc_copied=10)
    rows = [l for l in _hosts_section(real).splitlines() if "| zerocopy | TCP |" in l]
    assert rows == ["| clienthost: c0 (ixgbe) | zerocopy | TCP | 1 | 200 | 10 | 95.0% (partly copied) |"]
    tcp["mode_support"]["send"].update(zc_copied=0)
    assert "100.0% (none copied)" in _hosts_section(real)


def test_a_failed_probe_is_shown_with_its_reason(doc):
    failed = copy.deepcopy(doc)
    path = failed["metadata"]["lane"]["survey"]["paths"][1]
    path["bulk"] = {"status": "failed", "reason": "the receiver did not finish within 19 s"}
    section = _hosts_section(failed)
    assert "| 1 | 198.18.1.1 (c1) → 198.19.1.1 (s1) | 1500 | failed | – |" in section
    assert "- path 1, bulk probe failed: the receiver did not finish within 19 s" in section


def test_other_runs_have_no_hosts_section(doc, data_dir):
    local = json.loads((data_dir / "runs" / "quick-a" / "results.json").read_text())
    assert hosts.section(local) == [] and "## Hosts" not in build.markdown(local)
    before = copy.deepcopy(doc)
    del before["metadata"]["lane"]["survey"]          # a hosts run from before the survey
    assert "No path survey was recorded" in _hosts_section(before)
