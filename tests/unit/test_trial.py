"""Trial records and verdicts, built from raw results of real trials."""
import copy
import json

import pytest

from bench.catalog import Catalog
from bench.record import trial


@pytest.fixture
def raw(data_dir):
    return json.loads((data_dir / "raw-trials.json").read_text())


@pytest.fixture
def scenario():
    return Catalog().scenario("aggregate-2x")


def build(raw, scenario, proto):
    return trial.build(raw, scenario, proto, run_id="r", repeat=0, seq=0)


def test_tcp_record_measures_goodput_and_cpu(raw, scenario):
    rec = build(raw["tcp"], scenario, "tcp")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["bytes"] == raw["tcp"]["receiver"]["loop"]["bytes"]
    assert 0.8 * 50e6 < rec["goodput_bps"] <= 50e6
    assert rec["cpu_system_s"] > 0 and rec["cpu_system_s_per_gb"] > 0
    assert rec["subflows"] == 1 and rec["mptcp_verified"] is None
    assert len(rec["intervals_bytes"]) >= 9


def test_mptcp_record_is_verified_with_two_subflows(raw, scenario):
    rec = build(raw["mptcp"], scenario, "mptcp")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mptcp_verified"] is True
    assert rec["subflows"] == 2 == rec["subflows_expected"]
    assert all(sf["bytes_acked"] > 0 for sf in rec["subflow_detail"])
    assert rec["expected_goodput_bps"] == pytest.approx(2 * 50e6 * 1424 / 1514)


def test_client_fallback_is_caught(raw, scenario):
    r = copy.deepcopy(raw["mptcp"])
    info = r["sender"]["info"]
    for key in ("mptcp_info", "full_info"):
        info.pop(key)
    info["mptcp_info_error"] = "EOPNOTSUPP"
    rec = build(r, scenario, "mptcp")
    assert rec["status"] == "fallback"
    assert "client MPTCP_INFO: EOPNOTSUPP" in rec["reason"]
    assert rec["mptcp_verified"] is False


def test_plain_tcp_server_is_caught(raw, scenario):
    r = copy.deepcopy(raw["mptcp"])
    r["receiver"]["info"] = {"so_protocol": 6, "tcp_info": {}}
    rec = build(r, scenario, "mptcp")
    assert rec["status"] == "fallback"
    assert "server socket protocol is 6" in rec["reason"]


def test_mptcp_fallback_counters_are_evidence_but_tcp_ones_are_not(raw, scenario):
    r = copy.deepcopy(raw["mptcp"])
    r["mib"]["client"]["TcpExtTCPSackShiftFallback"] = 12
    assert build(r, scenario, "mptcp")["status"] == "ok"
    r["mib"]["server"]["MPTcpExtMPCapableFallbackACK"] = 1
    rec = build(r, scenario, "mptcp")
    assert rec["status"] == "fallback"
    assert "server MPTcpExtMPCapableFallbackACK +1" in rec["reason"]


def test_missing_subflow_makes_a_partial_trial(raw, scenario):
    r = copy.deepcopy(raw["mptcp"])
    full = r["sender"]["info"]["full_info"]
    full["subflows"] = full["subflows"][:1]
    full["num_subflows"] = 1
    rec = build(r, scenario, "mptcp")
    assert rec["status"] == "partial"
    assert rec["reason"].startswith("1 of 2 expected subflows")


def test_a_join_the_server_never_saw_is_no_subflow(raw, scenario):
    """A middlebox dropped the MP_JOIN SYN (blackhole-join, 2026-12-06): the
    client still listed the join, and the kernel counted it; the server's
    socket did not have it, and it carried nothing."""
    r = copy.deepcopy(raw["mptcp"])
    client = r["sender"]["info"]["full_info"]
    server = r["receiver"]["info"]["full_info"]
    dead = client["subflows"][1]
    server["subflows"] = [sf for sf in server["subflows"]
                          if (sf["remote"], sf["local"]) != (dead["local"], dead["remote"])]
    assert len(server["subflows"]) == 1
    dead.update(bytes_acked=0, bytes_received=0)
    rec = build(r, scenario, "mptcp")
    assert client["num_subflows"] == 2 and rec["subflows"] == 1
    assert rec["status"] == "partial"
    dead["bytes_acked"] = 5000      # a subflow that carried data was established
    assert build(r, scenario, "mptcp")["subflows"] == 2


@pytest.mark.parametrize("err, status", [
    ({"call": "socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)", "errno": "EPROTONOSUPPORT",
      "message": "m"}, "unsupported"),
    ({"call": "connect", "errno": "ECONNREFUSED", "message": "connect: ECONNREFUSED"}, "failed"),
])
def test_errors(raw, scenario, err, status):
    r = copy.deepcopy(raw["mptcp"])
    r["error"], r["sender"], r["receiver"] = err, None, None
    rec = build(r, scenario, "mptcp")
    assert rec["status"] == status and rec["reason"] == err["message"]
    assert rec["goodput_bps"] is None


def test_interrupted_record_has_core_columns(scenario):
    rec = trial.interrupted(scenario, "tcp", scenario.trial_params("tcp"), "native",
                            run_id="r", repeat=2, seq=5, signame="SIGINT")
    assert rec["status"] == "interrupted" and rec["reason"] == "interrupted by SIGINT"
    from bench import results_format
    assert set(results_format.CORE_COLUMNS) <= set(rec)


def test_a_failed_trial_keeps_what_was_delivered_before_it_failed():
    from bench.record.trial import before_failure
    partial = {"sender": {"loop": {"bytes": 9_000_000}},
               "receiver": {"loop": {"bytes": 5_000_000, "interval_ns": 10_000_000,
                                     "intervals": [1_000_000] * 5 + [0] * 300,
                                     "verify": {"checked": 5_000_000, "mismatched": 0,
                                                "first_bad_offset": None}}}}
    out = before_failure(partial, {"verify": True})
    assert (out["sent_bytes"], out["received_bytes"]) == (9_000_000, 5_000_000)
    assert out["delivered_until_s"] == pytest.approx(0.05)
    assert out["verify"] == {"checked_bytes": 5_000_000, "mismatches": 0, "first_bad_offset": None}
    assert "verify" not in before_failure(partial, {"verify": False})
    assert before_failure({"sender": {"loop": {"bytes": 1}}}, {}) == {"sent_bytes": 1, "received_bytes": None}
