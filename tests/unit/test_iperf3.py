"""The iperf3 driver's pure parts, on iperf3 output captured from real TCP,
MPTCP and fallback runs (tests/tools/capture_iperf3.py): JSON parsing,
the trial records built from it, socket views and command lines."""
import copy
import json

import pytest

from bench import results_format
from bench.catalog import Catalog
from bench.record import trial
from harness.measure import sockdiag
from harness.traffic.drivers import TrialParams, iperf3_json
from harness.traffic.drivers import iperf3 as driver


@pytest.fixture
def docs(data_dir):
    return {case: json.loads((data_dir / "iperf3" / f"{case}.json").read_text())
            for case in ("tcp", "mptcp", "fallback")}


@pytest.fixture
def raws(data_dir):
    return json.loads((data_dir / "iperf3" / "raw-trials.json").read_text())


@pytest.fixture
def scenario():
    return Catalog().scenario("aggregate-2x")


def build(raw, scenario, proto):
    return trial.build(copy.deepcopy(raw), scenario, proto, run_id="r", repeat=0, seq=0)


@pytest.mark.parametrize("text, version, method", [
    ("iperf 3.12 (cJSON 1.7.15)", (3, 12), "mptcpize"),
    ("iperf 3.19 (cJSON 1.7.15)", (3, 19), "--mptcp"),
    ("iperf 3.20", (3, 20), "--mptcp"),
])
def test_version_decides_how_mptcp_is_asked_for(text, version, method):
    assert iperf3_json.parse_version(text) == version
    assert iperf3_json.mptcp_method(version) == method


def test_no_version_from_garbage():
    assert iperf3_json.parse_version(None) is None
    assert iperf3_json.parse_version("command not found") is None


def test_receiver_figures_come_from_the_servers_own_document(docs):
    doc = docs["tcp"]
    raw = iperf3_json.to_raw(doc, 0.1)
    server_end = doc["server_output_json"]["end"]["sum_received"]
    loop = raw["receiver"]["loop"]
    assert loop["bytes"] == server_end["bytes"]
    assert loop["last_ns"] - loop["first_ns"] == int(server_end["seconds"] * 1e9)
    # The receiver's 100 ms series, as the server measured it.
    assert loop["intervals"] == [i["sum"]["bytes"] for i in doc["server_output_json"]["intervals"]]
    assert loop["interval_ns"] == 100_000_000 and len(loop["intervals"]) >= 20
    assert raw["sender"]["loop"]["bytes"] == doc["end"]["sum_sent"]["bytes"] >= loop["bytes"]


def test_iperf3s_own_cpu_figures_and_retransmits_go_to_tool(docs):
    doc = docs["mptcp"]
    tool = iperf3_json.to_raw(doc, 0.1)["tool"]
    pct = doc["end"]["cpu_utilization_percent"]
    assert tool["cpu_utilization_percent"] == pct
    assert tool["cpu_sender_s"] == pytest.approx(pct["host_total"] / 100
                                                 * doc["end"]["sum_sent"]["seconds"])
    assert tool["cpu_receiver_s"] > 0
    assert tool["retransmits"] == doc["end"]["sum_sent"]["retransmits"]
    assert tool["version"] == "iperf 3.12" and tool["receiver_side"] == "server_output_json"


def test_an_iperf3_error_becomes_a_failed_trial(docs, scenario, raws):
    doc = {"start": {}, "intervals": [], "end": {}, "error": "unable to connect to server: "
           "Connection refused"}
    raw = iperf3_json.to_raw(doc, 0.1)
    assert raw["error"]["message"] == "iperf3: unable to connect to server: Connection refused"
    rec = build({**raws["tcp"], **raw}, scenario, "tcp")
    assert rec["status"] == "failed" and "Connection refused" in rec["reason"]


def test_tcp_record_has_the_native_records_shape(raws, scenario, data_dir):
    rec = build(raws["tcp"], scenario, "tcp")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["driver"] == "iperf3"
    assert 0.85 * 50e6 < rec["goodput_bps"] <= 50e6
    native = build(json.loads((data_dir / "raw-trials.json").read_text())["tcp"], scenario, "tcp")
    assert set(results_format.CORE_COLUMNS) <= set(rec) and set(rec) - set(native) == {"tool"}
    assert rec["cpu_sender_s"] > 0 and rec["cpu_receiver_s"] > 0      # ours, from wait4
    assert rec["tool"]["cpu_receiver_s"] > 0                          # iperf3's, beside
    assert rec["cpu_system_window"] == "outer" and rec["window_s"] is None
    assert rec["cpu_system_s"] == raws["tcp"]["outer_window"]["busy_s"]
    assert rec["mptcp"]["client"] == {"so_protocol": 6, "source": "sock_diag"}


def test_mptcp_record_is_verified_from_sock_diag_and_counters(raws, scenario):
    rec = build(raws["mptcp"], scenario, "mptcp")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mptcp_verified"] is True and rec["subflows"] == 2
    assert rec["mptcp"]["server"]["source"] == "sock_diag"
    assert rec["goodput_bps"] > 1.5 * 0.9 * 50e6


def test_a_plain_tcp_server_makes_the_mptcp_run_a_fallback(raws, scenario):
    rec = build(raws["fallback"], scenario, "mptcp")
    assert rec["status"] == "fallback" and rec["mptcp_verified"] is False
    assert "client MPTCP_INFO flags fallback" in rec["reason"]
    assert "server socket protocol is 6, not MPTCP" in rec["reason"]
    assert "client MPTcpExtMPCapableFallbackSYNACK +2" in rec["reason"]


def test_a_connection_sock_diag_never_saw_is_not_verified(raws, scenario):
    for proto, status in (("mptcp", "fallback"), ("tcp", "failed")):
        raw = copy.deepcopy(raws[proto])
        raw["receiver"]["info"] = driver._unobserved("server")
        rec = build(raw, scenario, proto)
        assert rec["status"] == status
        assert "sock_diag never saw the server's connection" in rec["reason"]


def conn(protocol, lport, rport, **info):
    return {"protocol": protocol, "local": "a", "local_port": lport, "remote": "b",
            "remote_port": rport, "state": 1, "info": info}


def test_socket_view_picks_the_busiest_mptcp_connection_of_the_test():
    conns = [conn("mptcp", 40000, 5201, bytes_sent=186, fallback=False),     # control
             conn("mptcp", 40001, 5201, bytes_sent=10**7, fallback=False),   # data
             conn("tcp", 40001, 5201, bytes_acked=10**7),                    # its subflow
             conn("mptcp", 40002, 5999, bytes_sent=10**9, fallback=False)]   # another test
    view = sockdiag.socket_view(conns, 5201, "client")
    assert view["so_protocol"] == 262 and view["mptcp_info"]["bytes_sent"] == 10**7
    server = [conn("tcp", 5201, 40001, bytes_received=5), conn("tcp", 5201, 40000)]
    assert sockdiag.socket_view(server, 5201, "server")["so_protocol"] == 6
    assert sockdiag.socket_view(server, 5202, "server") is None


class FakeTopo:
    def ns(self, role):
        return f"mpb-x-{role}"

    def server_address(self, family, link=0):
        return f"198.19.{link}.1"

    def client_address(self, family, link=0):
        return f"198.18.{link}.1"


@pytest.mark.parametrize("version, wrapper, flag", [((3, 12), ["mptcpize", "run"], []),
                                                    ((3, 19), [], ["--mptcp"])])
def test_command_lines(monkeypatch, version, wrapper, flag):
    monkeypatch.setattr(driver, "installed_version", lambda: version)
    p = TrialParams(protocol="mptcp", duration_s=2.5, cpu_sender=0, cpu_receiver=1)
    client = driver.client_argv(FakeTopo(), p, 5300)
    head = ["setpriv", "--pdeathsig", "KILL", "--", "nsenter", "--net=/run/netns/mpb-x-client", "--"]
    assert client[:len(head)] == head
    assert client[len(head):len(head) + len(wrapper)] == wrapper
    iperf = client[len(head) + len(wrapper):]
    assert iperf == ["iperf3", "-c", "198.19.0.1", "-p", "5300", "-B", "198.18.0.1", "-J",
                     "--get-server-output", "-l", "131072", "-i", "0.1", "-t", "3", "-A", "0",
                     *flag]
    server = driver.server_argv(FakeTopo(), p, 5300)
    assert "mpb-x-server" in server[5] and server[-len(flag) - 2:] == ["-A", "1", *flag]
    assert ("mptcpize" in server) == bool(wrapper)


def test_a_plain_tcp_server_and_a_byte_budget(monkeypatch):
    monkeypatch.setattr(driver, "installed_version", lambda: (3, 12))
    p = TrialParams(protocol="mptcp", server_protocol="tcp", max_bytes=10**6, duration_s=0)
    assert "mptcpize" not in driver.server_argv(FakeTopo(), p, 5300)
    client = driver.client_argv(FakeTopo(), p, 5300)
    assert "mptcpize" in client and client[-2:] == ["-n", "1000000"]
