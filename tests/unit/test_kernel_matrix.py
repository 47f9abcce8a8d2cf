"""The kernel matrix: behaviour first, speed only where the lane can
measure it, on synthetic runs of a host and an emulated VM lane."""
from __future__ import annotations

import pytest
import synthetic

from bench.cli import main
from bench.report import html_page, kernel_matrix


def _run(kernel: str, lane: dict, mptcp_goodput: float, statuses=None, options="supported",
         mode="works"):
    trials = synthetic.paired("aggregate-2x", [47.8e6] * 3, [mptcp_goodput] * 3, statuses=statuses,
                              subflows_expected=2, failover_gap_ms=None)
    for t in trials:
        t["expected_goodput_bps"] = 95.6e6 if t["protocol"] == "mptcp" else 47.8e6
        t["subflows"] = 2 if t["protocol"] == "mptcp" else 1
        t["mode_support"] = {"send": {"mode": "zerocopy", "status": mode if t["protocol"] == "mptcp"
                                      else "works", "reason": None}}
    run = synthetic.run(trials, run_id=f"run-{kernel}", kernel=kernel)
    run.doc["metadata"]["lane"] = lane
    run.doc["metadata"]["socket_options"] = {"TCP_NODELAY": {"client": "supported"},
                                             "SO_ZEROCOPY": {"client": options}}
    run.head.update(metadata=run.doc["metadata"])
    return run


def test_the_matrix_puts_behaviour_first_and_speed_where_the_lane_measures_it():
    host = _run("6.18.44", {"kind": "host"}, 93e6)
    vm = _run("6.1.0-57-amd64", {"kind": "vm", "kvm": False}, 60e6,
              statuses={("mptcp", 2): "fallback"}, options="unsupported (EOPNOTSUPP)",
              mode="unsupported")
    text = kernel_matrix.markdown([host, vm])
    assert text.index("## Behaviour") < text.index("## Speed")
    row = next(line for line in text.splitlines() if line.startswith("| aggregate-2x | MPTCP |")
               and "ok" in line)
    assert "3/3 ok; subflows 2/2" in row and "2/3 ok, 1 fallback; subflows 2/2" in row
    assert "6.18.44 (host)" in text and "6.1.0-57-amd64 (VM, emulated CPU)" in text
    assert "| SO_ZEROCOPY | supported | unsupported (EOPNOTSUPP) |" in text
    assert "TCP_NODELAY" not in text           # the same on both kernels
    assert "| MPTCP send zerocopy | works | unsupported |" in text
    speed = text[text.index("## Speed"):]
    good = next(line for line in speed.splitlines() if line.startswith("| aggregate-2x | MPTCP |"))
    assert "93.00 Mbit/s" in good and "CPU-bound in an emulated-CPU lane" in good
    tcp = next(line for line in speed.splitlines() if line.startswith("| aggregate-2x | TCP |"))
    assert tcp.count("47.80 Mbit/s") == 2 and "(link-bound)" in tcp
    assert "not measured in an emulated-CPU lane" in speed      # CPU/GB from the VM
    html_page.render(text, {}, "matrix")


@pytest.mark.parametrize("argv, message", [
    (["run", "--kernel", "host", "--kernel", "host"], "given twice"),
    (["run", "--store", "x"], "--store goes with several --kernel"),
])
def test_matrix_arguments_are_checked(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_what_changed_is_said_per_pair_and_a_kernel_that_did_not_run_is_a_column():
    a = _run("6.1.0-57-amd64", {"kind": "vm", "kvm": False,
                                "debian": {"version": "6.1.192-3"}}, 93e6)
    b = _run("6.12.95+deb12-amd64", {"kind": "vm", "kvm": False}, 93e6,
             statuses={("mptcp", 0): "fallback"}, options="unsupported (EOPNOTSUPP)")
    c = _run("6.18.44", {"kind": "host"}, 80e6)
    for run, laminar, sysctls in ((a, False, ["net.mptcp.enabled"]),
                                  (b, False, ["net.mptcp.enabled", "net.mptcp.blackhole_timeout"]),
                                  (c, True, ["net.mptcp.enabled", "net.mptcp.blackhole_timeout"])):
        run.doc["metadata"]["features"] = {"pm-laminar": {"ok": laminar, "detail": "needs 6.18"},
                                           "sysctls": sysctls}
    c.doc["scenarios"]["aggregate-2x"]["state"] = "skipped"
    c.doc["scenarios"]["aggregate-2x"]["reason"] = "needs nft-mptcp"
    missing = kernel_matrix.Missing("debian:unstable", "not fetched: apt-get update failed")
    text = kernel_matrix.markdown([a, b, c], [missing])
    changed = text[text.index("## What changed"):text.index("## Behaviour")]
    first, second, gone = changed.split("\n**")[1:]
    assert "6.1.0-57-amd64 (VM, emulated CPU; Debian 6.1.192-3) → 6.12.95" in first
    assert "feature `net.mptcp.blackhole_timeout`: absent → present" in first
    assert "option `SO_ZEROCOPY`: supported → unsupported (EOPNOTSUPP)" in first
    assert "`aggregate-2x` MPTCP: 3/3 ok; subflows 2/2 → 2/3 ok, 1 fallback" in first
    assert "feature `pm-laminar`: no → yes" in second
    assert "skipped: needs nft-mptcp" in second
    assert "goodput:" not in first            # equal ratios: nothing moved
    assert gone.startswith("debian:unstable** did not run: not fetched: apt-get update failed.")
    head = next(line for line in text.splitlines() if line.startswith("| scenario | protocol |"))
    assert head.endswith("| debian:unstable (did not run) |")
    row = next(line for line in text.splitlines() if line.startswith("| aggregate-2x | TCP |"))
    assert row.endswith("| did not run |")
    assert "| net.mptcp.blackhole_timeout | absent | present | present | did not run |" in text
    assert "net.mptcp.enabled" not in text      # the same on every kernel that ran


def test_a_goodput_ratio_that_moved_is_said_and_absolute_goodputs_are_not_compared():
    a = _run("6.12", {"kind": "host"}, 93e6)
    b = _run("6.18", {"kind": "host"}, 80e6)
    text = kernel_matrix.markdown([a, b])
    assert "`aggregate-2x` MPTCP/TCP goodput: ×1.95–1.95 → ×1.67–1.67" in text
    vm = _run("6.1", {"kind": "vm", "kvm": False}, 93e6)
    for t in vm.doc["trials"]:
        t["goodput_bps"] *= 0.95             # a slower emulated CPU, the same ratio
    text = kernel_matrix.markdown([a, vm])
    assert "goodput:" not in text[:text.index("## Behaviour")]


def test_a_kvm_lane_gives_speed_like_the_host():
    host = _run("6.18.44", {"kind": "host"}, 93e6)
    kvm = _run("6.12.95+deb12-amd64", {"kind": "vm", "kvm": True}, 60e6)
    text = kernel_matrix.markdown([host, kvm])
    assert "6.12.95+deb12-amd64 (VM, KVM)" in text
    speed = text[text.index("## Speed"):]
    good = next(line for line in speed.splitlines() if line.startswith("| aggregate-2x | MPTCP |"))
    assert "60.00 Mbit/s |" in good and "CPU-bound" not in good and "link-bound" not in good
    assert "not measured in an emulated-CPU lane" not in speed


def test_numbers_change_only_when_their_ranges_part_and_a_skip_only_when_its_need_does():
    runs = [_run(k, {"kind": "host"}, 93e6) for k in ("6.1", "6.12", "7.2")]
    for run, gaps in zip(runs, ((190, 200, 210), (200, 205, 215), (400, 410, 420))):
        for t, gap in zip([t for t in run.doc["trials"] if t["protocol"] == "mptcp"], gaps):
            t["failover_gap_ms"], t["interval_s"] = gap, 0.01
    for run in runs[:2]:
        run.doc["scenarios"]["aggregate-2x"].update(
            state="skipped", reason=f"scenario needs pm-laminar (kernel {run.run_id} has none)")
    text = kernel_matrix.markdown(runs)
    changed = text[text.index("## What changed"):text.index("## Behaviour")]
    first, second = changed.split("\n**")[1:]
    assert "- nothing measured differs." in first        # gaps overlap, the same need
    assert "`aggregate-2x` MPTCP failover gap: 200–215 → 400–420 ms" in second
    assert "`aggregate-2x` MPTCP: skipped: scenario needs pm-laminar" in second
