"""MIB counters and /proc/stat, on captured text."""
import pytest

from harness.measure import cpustat, mib


def test_netstat_parses_into_nstat_names(data_dir):
    counters = mib.parse((data_dir / "proc-netstat.txt").read_text())
    assert "MPTcpExtMPCapableSYNTX" in counters
    assert "TcpExtTCPLostRetransmit" in counters
    assert counters["MPTcpExtMPJoinSynTx"] >= 1


def test_mib_delta_keeps_changes_only():
    before = {"TcpRetransSegs": 5, "MPTcpExtMPJoinSynTx": 1, "TcpCurrEstab": 2}
    after = {"TcpRetransSegs": 9, "MPTcpExtMPJoinSynTx": 1, "TcpCurrEstab": 0, "New": 3}
    assert mib.delta(before, after) == {"New": 3, "TcpCurrEstab": -2, "TcpRetransSegs": 4}


def test_mismatched_header_lines_are_ignored():
    assert mib.parse("TcpExt: A B\nIpExt: 1 2\n") == {}


def test_proc_stat_delta(data_dir):
    before = cpustat.parse((data_dir / "proc-stat.txt").read_text())
    after = {name: {f: v + (10 if f in ("system", "softirq") else 0) + (30 if f == "idle" else 0)
                    for f, v in row.items()} for name, row in before.items()}
    d = cpustat.delta(before, after)
    tick = cpustat.TICK_S
    assert d["busy_s"] == pytest.approx(20 * tick)
    assert d["softirq_s"] == pytest.approx(10 * tick)
    assert d["capacity_s"] == pytest.approx(50 * tick)
    assert set(d["per_cpu_busy_s"]) == {n for n in before if n != "cpu"}
