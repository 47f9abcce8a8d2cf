"""Bulk workloads with several concurrent connections (flows = N)."""
import json

import pytest

from bench.catalog import Workload
from bench.record.trial import jain
from harness.traffic.drivers import iperf3_json
from harness.traffic.workloads.bulk import flow_figures, merge_loops

MS = 1_000_000


def loop(start_ms, intervals, first_ms=None, last_ms=None, **extra):
    return {"bytes": sum(intervals), "calls": len(intervals), "start_ns": start_ms * MS,
            "end_ns": (start_ms + 100 * len(intervals)) * MS,
            "first_ns": (first_ms if first_ms is not None else start_ms + 1) * MS,
            "last_ns": (last_ms if last_ms is not None else start_ms + 100 * len(intervals)) * MS,
            "interval_ns": 100 * MS, "intervals": intervals, "error": None, **extra}


def test_concurrent_loops_merge_on_the_earliest_grid():
    a = loop(0, [10, 20, 30])
    b = loop(200, [5, 5, 5], first_ms=201, last_ms=480)     # two intervals later
    merged = merge_loops([a, b])
    assert merged["intervals"] == [10, 20, 35, 5, 5]
    assert merged["bytes"] == 75 and merged["calls"] == 6
    assert merged["start_ns"] == 0 and merged["first_ns"] == 1 * MS
    assert merged["last_ns"] == 480 * MS and merged["error"] is None


def test_verification_and_errors_survive_the_merge():
    a = loop(0, [1], verify={"checked": 10, "mismatched": 0, "first_bad_offset": None})
    b = loop(0, [1], verify={"checked": 5, "mismatched": 2, "first_bad_offset": 7},
             error={"call": "recv"})
    merged = merge_loops([a, b])
    assert merged["verify"] == {"checked": 15, "mismatched": 2, "first_bad_offset": 7}
    assert merged["error"] == {"call": "recv"}


def test_a_flows_own_goodput_is_over_its_own_first_to_last_byte():
    assert flow_figures(loop(0, [125, 125], first_ms=50, last_ms=250))["goodput_bps"] == \
        pytest.approx(250 * 8 / 0.2)
    assert flow_figures(loop(0, [0], first_ms=0, last_ms=0))["goodput_bps"] is None


@pytest.mark.parametrize("rates, index", [([5.0, 5.0, 5.0, 5.0], 1.0), ([8.0, 0.0], 0.5),
                                          ([3.0, 1.0], 0.8), ([0.0, 0.0], None)])
def test_jains_index(rates, index):
    assert jain(rates) == (pytest.approx(index) if index is not None else None)


def test_iperf3_streams_become_flows(data_dir):
    doc = json.loads((data_dir / "iperf3" / "tcp.json").read_text())
    assert "flows" not in iperf3_json.to_raw(doc, 0.1)["receiver"]     # one stream: no flows
    server = doc["server_output_json"]
    one = server["end"]["streams"][0]
    other = {"sender": one["sender"], "receiver": {**one["receiver"], "bytes": 1_000_000,
                                                     "seconds": 2.0}}
    server["end"]["streams"] = [one, other]
    flows = iperf3_json.to_raw(doc, 0.1)["receiver"]["flows"]
    assert [f["bytes"] for f in flows] == [11570168, 1_000_000]
    assert flows[1]["goodput_bps"] == pytest.approx(4e6)


def test_flows_are_concurrent_connections_or_clients_with_a_duration():
    assert Workload(flows=16).flows == 16
    assert Workload(kind="crr", flows=256).flows == 256        # concurrent clients
    with pytest.raises(ValueError, match="less than or equal to 10000"):
        Workload(kind="rr", flows=10_001)
    with pytest.raises(ValueError, match="byte budget"):
        Workload(flows=2, bytes=10_000)


def test_the_report_gives_the_slowest_median_and_fastest_flow():
    from bench.report import sections
    trials = [{"scenario": "s", "driver": "native", "protocol": "mptcp", "status": "ok",
               "flows_goodput_bps": [1e6, 3e6, 2e6]},
              {"scenario": "s", "driver": "native", "protocol": "mptcp", "status": "stalled",
               "flows_goodput_bps": [9e9]}]
    lines = sections.per_flow(trials, "s", "native")
    assert lines[-1] == "- MPTCP: 3 flows; slowest 1.0, median 2.0, fastest 3.0 Mbit/s"
    assert sections.per_flow(trials, "s", "iperf3") == []
