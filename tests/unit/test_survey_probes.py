"""The hosts lane's path survey (bench/hosts/survey.py) as pure functions on
what the native driver returns, and the surveyed link model: the limit is
the surveyed goodput and the recorded definition stays unshaped."""
import json

import pytest

from bench.catalog import Catalog, Link, Scenario
from bench.hosts import survey
from bench.hosts.lane import as_measured
from bench.record import linkmodel


def _bulk_raw(nbytes=12_500_000, span_ns=2_000_000_000):
    return {"error": None,
            "sender": {"info": {"tcp_info": {"rtt": 14000, "total_retrans": 3}}},
            "receiver": {"loop": {"bytes": nbytes, "first_ns": 10, "last_ns": 10 + span_ns}}}


def _rr_raw(transactions=1000):
    lat = {"transactions": transactions, "p50_us": 80.0, "p90_us": 120.0, "p99_us": 300.0}
    return {"error": None, "sender": {"loop": {"latency": lat},
                                      "info": {"tcp_info": {"rtt": 90, "rttvar": 20}}}}


def test_bulk_probe_gives_goodput_and_the_wire_rate_it_implies():
    b = survey.bulk(_bulk_raw(), 4, 1500)
    assert b["status"] == "ok" and b["goodput_bps"] == pytest.approx(50e6)
    assert b["capacity_mbit"] == pytest.approx(50 * 1514 / 1448)
    assert (b["loaded_rtt_us"], b["retransmits"]) == (14000, 3)


def test_a_failed_probe_is_recorded_with_its_reason():
    err = {"error": {"message": "the receiver did not finish within 19 s"}}
    assert survey.bulk(err, 4, 1500) == {"status": "failed",
                                         "reason": "the receiver did not finish within 19 s"}
    assert survey.rr(err)["status"] == "failed"
    assert survey.bulk(_bulk_raw(nbytes=0), 4, 1500) == {"status": "failed",
                                                        "reason": "the probe moved 0 bytes"}
    assert survey.rr(_rr_raw(0)) == {"status": "failed", "reason": "no transaction completed"}


def test_rr_probe_gives_round_trips_and_the_kernels_rtt():
    r = survey.rr(_rr_raw())
    assert (r["p50_us"], r["p90_us"], r["srtt_us"], r["rttvar_us"]) == (80.0, 120.0, 90, 20)


def _survey(*goodputs):
    return {"paths": [{"path": i, "bulk": {"status": "ok", "goodput_bps": g} if g else
                       {"status": "failed", "reason": "x"}} for i, g in enumerate(goodputs)]}


def test_link_model_names_the_paths_the_survey_missed():
    assert survey.link_model(_survey(40e6, 20e6)) == "surveyed"
    assert survey.link_model(_survey(40e6, None)) == "surveyed except path 1"
    assert survey.link_model(_survey(None, None)) == "unknown"
    assert survey.link_model(None) == "unknown"


def test_the_surveyed_goodput_is_tcps_limit_and_mptcp_pays_its_option():
    s = Catalog().scenario("aggregate-2x")
    rates = survey.capacities(_survey(40e6, 20e6), [l.mtu for l in s.links], 4)
    measured = as_measured(s, rates)
    assert linkmodel.goodput_limit_bps(measured, "tcp") == pytest.approx(40e6)
    assert linkmodel.goodput_limit_bps(measured, "mptcp") == pytest.approx(60e6 * 1424 / 1448)
    one = as_measured(s, survey.capacities(_survey(40e6, None), [1500, 1500], 4))
    assert linkmodel.goodput_limit_bps(one, "tcp") == pytest.approx(40e6)
    assert linkmodel.goodput_limit_bps(one, "mptcp") is None       # path 1 unknown
    assert linkmodel.goodput_limit_bps(as_measured(s), "tcp") is None


def test_a_surveyed_scenario_records_an_unshaped_definition():
    s = Catalog().scenario("aggregate-2x")
    measured = as_measured(s, [50.0, 50.0])
    definition = json.loads(json.dumps(measured.model_dump(mode="json")))
    assert all("surveyed_mbit" not in link and link["rate_mbit"] is None
               for link in definition["links"])
    assert all(l.spec().rate_up_mbit is None for l in measured.links)       # nothing to shape
    assert Scenario.model_validate(definition) == as_measured(s)
    # A skipped scenario with more links than the inventory has paths keeps them all.
    assert len(as_measured(Catalog().scenario("unshaped-4x"), [50.0, 50.0]).links) == 4


def test_a_scenario_file_cannot_claim_a_surveyed_rate():
    with pytest.raises(ValueError, match="measured by a hosts run's path survey"):
        Link(surveyed_mbit=50)


def test_root_qdisc_and_what_a_dry_run_says():
    assert survey.root_qdisc([{"kind": "clsact", "parent": 0xFFFFFFF1},
                              {"kind": "fq", "parent": 0xFFFFFFFF}]) == "fq"
    assert survey.root_qdisc([]) is None

    class Inv:
        paths = [type("P", (), {"client_address": "192.0.2.1", "server_address": "203.0.113.5"})]
    assert survey.planned(Inv) == ["path 0: 2 s of TCP bulk and 1 s of request/response from "
                                   "192.0.2.1 to 203.0.113.5"]


def test_the_console_says_each_paths_survey_or_why_it_failed():
    err = {"error": {"message": "the receiver did not finish within 19 s"}}
    doc = {"paths": [
        {"path": 0, "client_address": "192.0.2.23", "server_address": "203.0.113.5",
         "bulk": survey.bulk(_bulk_raw(), 4, 1500), "rr": survey.rr(_rr_raw())},
        {"path": 1, "client_address": "198.51.100.2", "server_address": "203.0.113.5",
         "bulk": survey.bulk(err, 4, 1500), "rr": survey.rr(_rr_raw())}]}
    assert survey.summary(doc) == [
        "path 0 (192.0.2.23 -> 203.0.113.5): TCP 50.0 Mbit/s, round trip p50 0.080 ms",
        "path 1 (198.51.100.2 -> 203.0.113.5): bulk probe failed: the receiver did not finish "
        "within 19 s, round trip p50 0.080 ms"]
