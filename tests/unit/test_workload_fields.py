"""Trial records of the engine's workloads and modes, built from raw
results captured on real namespaces (tests/tools/capture_engine_trials.py)."""
import copy
import json

import pytest

from bench.record import trial, workload_fields
from harness.traffic import engine

SCENARIO = {"rr": "rr", "crr": "crr", "rr_under_load": "rr-under-load", "bulk": "single-link"}


@pytest.fixture(scope="module")
def raw(data_dir):
    return json.loads((data_dir / "raw-engine-trials.json").read_text())


def build(raw_trial, catalog):
    kind = raw_trial["params"]["workload"]
    s = catalog.scenario(SCENARIO[kind])
    return trial.build(raw_trial, s, raw_trial["params"]["protocol"], run_id="r", repeat=0, seq=0)


@pytest.mark.parametrize("name", ["rr-tcp", "rr-mptcp"])
def test_rr_record_has_ordered_percentiles_and_counts_that_add_up(raw, catalog, name):
    rec = build(raw[name], catalog)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["workload"] == "rr" and rec["goodput_bps"] is None
    assert rec["send_mode"] is None and rec["expected_goodput_bps"] is None
    lat = [rec[f"latency_us_{k}"] for k in ("p50", "p90", "p99", "p999", "max")]
    assert lat == sorted(lat) and lat[0] > 0
    detail = rec["transactions_detail"]
    assert len(detail["client_per_flow"]) == 2
    assert rec["transactions"] == sum(detail["client_per_flow"]) == detail["server"] \
        == sum(detail["server_per_flow"]) == sum(rec["intervals_transactions"])
    assert rec["transactions_per_s"] == pytest.approx(rec["transactions"] / rec["duration_s"])
    assert rec["cpu_system_us_per_transaction"] == pytest.approx(
        rec["cpu_system_s"] * 1e6 / rec["transactions"])
    assert 0 < len(rec["latency_samples_us"]) <= 2000


def test_crr_record_ignores_subflow_count_but_verifies_mptcp(raw, catalog):
    rec = build(raw["crr-mptcp"], catalog)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["subflows_expected"] is None and rec["mptcp_verified"] is True
    assert rec["mptcp"]["server"]["accepted_protocols"]["tcp"] == 0
    # every measured connection was an MPTCP handshake (plus the last, stopping one)
    assert raw["crr-mptcp"]["mib"]["client"]["MPTcpExtMPCapableSYNTX"] == rec["transactions"] + 1


def test_crr_server_that_accepted_tcp_makes_the_mptcp_trial_a_fallback(raw, catalog):
    r = copy.deepcopy(raw["crr-mptcp"])
    r["receiver"]["info"]["accepted_protocols"]["tcp"] = 1
    r["receiver"]["info"]["so_protocol"] = 6
    assert build(r, catalog)["status"] == "fallback"


def test_rr_under_load_keeps_both_phases(raw, catalog):
    rec = build(raw["rr_under_load-tcp"], catalog)
    assert rec["status"] == "ok", rec["reason"]
    unloaded = rec["latency_unloaded"]
    assert rec["latency_us_p50"] > unloaded["latency_us_p50"]
    assert rec["cpu_system_us_per_transaction"] is None
    assert unloaded["cpu_system_us_per_transaction"] > 0
    detail = rec["transactions_detail"]
    assert sum(detail["client_per_flow"]) + sum(detail["client_unloaded_per_flow"]) \
        == detail["server"]
    assert rec["load"]["bytes"] == rec["load"]["sender_bytes"] > 0
    assert rec["mode_support"]["send"] == {"mode": "send", "status": "works", "reason": None}


def test_tcp_zerocopy_counts_copied_completions(raw, catalog):
    rec = build(raw["zerocopy-tcp"], catalog)
    assert rec["status"] == "ok", rec["reason"]
    zc = rec["mode_support"]["send"]
    assert zc["mode"] == "zerocopy" and zc["status"] == "works"
    assert zc["zc_requests"] == zc["zc_completions"] > 0
    assert 0 < zc["zc_copied"] <= zc["zc_completions"]   # veth: the kernel copies


def test_ignored_zero_copy_request_is_unsupported_not_a_zero_copy_figure(raw, catalog):
    r = copy.deepcopy(raw["zerocopy-tcp"])
    r["sender"]["mode"] = engine.mode_support("zerocopy", {
        "zc": {"requests": 500, "completions": 0, "copied": 0}})
    rec = build(r, catalog)
    assert rec["status"] == "unsupported"
    assert "no zero-copy completion for 500 sends" in rec["reason"]


def test_mptcp_zerocopy_is_unsupported_with_the_refusing_call(raw, catalog):
    rec = build(raw["zerocopy-mptcp"], catalog)
    assert rec["status"] == "unsupported"
    assert rec["reason"] == "send mode zerocopy unsupported: setsockopt(SO_ZEROCOPY): EOPNOTSUPP"
    assert rec["mode_support"] == {"send": {"mode": "zerocopy", "status": "unsupported",
                                            "reason": "setsockopt(SO_ZEROCOPY): EOPNOTSUPP"}}


def test_mptcp_truncating_receive_works_on_this_kernel(raw, catalog):
    rec = build(raw["trunc-mptcp"], catalog)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mode_support"]["recv"]["mode"] == "trunc"
    assert rec["verify"] == {"enabled": False, "mismatches": None, "missing_bytes": None}


def test_corrupted_byte_fails_the_trial_with_its_offset(raw, catalog):
    rec = build(raw["verify-corrupt-tcp"], catalog)
    assert rec["status"] == "failed"
    v = rec["verify"]
    assert v["mismatches"] == 1 and v["first_bad_offset"] == 4096 and v["missing_bytes"] == 0
    assert v["checked_bytes"] == rec["bytes"]
    assert "verification: 1 mismatched byte(s), first at offset 4096" in rec["reason"]


def test_missing_bytes_fail_verification():
    v = workload_fields.verification(True, 1000, {"bytes": 900, "verify": {
        "checked": 900, "mismatched": 0, "first_bad_offset": None}})
    assert v["missing_bytes"] == 100
    assert workload_fields.verdict({"verify": v})[0] == "failed"


def test_support_matrix_counts_modes_per_protocol(raw, catalog):
    trials = [build(raw[n], catalog) for n in ("zerocopy-tcp", "zerocopy-mptcp", "trunc-mptcp")]
    rows = {(r["protocol"], r["direction"], r["mode"]): r
            for r in workload_fields.support_matrix(trials)}
    assert rows["tcp", "send", "zerocopy"]["works"] == 1
    assert rows["tcp", "send", "zerocopy"]["zc_copied"] > 0
    assert rows["mptcp", "send", "zerocopy"]["unsupported"] == 1
    assert rows["mptcp", "send", "zerocopy"]["reasons"] == ["setsockopt(SO_ZEROCOPY): EOPNOTSUPP"]
    assert rows["mptcp", "recv", "trunc"]["works"] == 1


def test_a_driver_without_the_engine_refuses_its_features_instead_of_faking_them():
    from harness.traffic import drivers
    from harness.traffic.drivers.native import NativeDriver

    class Tool:
        name = "tool"

    rr = drivers.TrialParams(protocol="tcp", workload="rr", send_mode="zerocopy", verify=True)
    raw = drivers.refusal(Tool(), rr)
    assert raw["error"]["unsupported"] is True
    assert raw["error"]["message"] == ("the tool driver cannot run the rr workload, send mode "
                                       "zerocopy, data verification; only the native engine can")
    assert drivers.refusal(Tool(), drivers.TrialParams(protocol="tcp")) is None
    assert drivers.refusal(NativeDriver(), rr) is None
