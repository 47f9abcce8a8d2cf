"""Attack verdicts from captured counters, attack scenarios' validation, and
the report's Attacks section."""
import pytest

from bench import catalog as cat
from bench.catalog import Catalog
from bench.record import security
from bench.report import security as report
from harness.attack import kinds


def _rec(kind, result, mib=None, protocol="mptcp", status="ok", **extra):
    rec = {"protocol": protocol, "status": status, "scenario": f"attack-{kind}",
           "mib": {"client": {}, "server": {}, **(mib or {})},
           "events": [{"action": "attack", "attack": kind, "at_s": 1.5, "error": None,
                       "at_s_from_first_byte": 1.5, "result": result}]}
    return rec | extra


def _judged(rec, expect="refused"):
    security.judge(rec, {rec["protocol"]: expect})
    return rec["attack"]


def test_unknown_tokens_answered_by_reset_are_refused():
    a = _judged(_rec("join_wrong_token", {"sent": 20, "replies": {"rst": 20}},
                     {"server": {"MPTcpExtMPJoinNoTokenFound": 20}}))
    assert a["verdict"] == "refused" and a["evidence"]["server.MPTcpExtMPJoinNoTokenFound"] == 20


def test_a_join_synack_for_an_unknown_token_would_be_accepted():
    a = _judged(_rec("join_wrong_token", {"sent": 1, "replies": {"synack_join": 1}}))
    assert a["verdict"] == "accepted"


def test_wrong_hmac_refused_right_hmac_accepted_on_the_servers_joins():
    seen = {"sent": 2, "synack": "synack_join", "server_hmac_checks": True}
    refused = _judged(_rec("join_wrong_hmac", seen | {"after_ack": "rst"},
                           {"server": {"MPTcpExtMPJoinAckHMacFailure": 1, "MPTcpExtMPJoinAckRx": 1}},
                           subflows_expected=2))
    # 6.1 sent no fourth ACK within the wait: the server's own count of joins
    # (one more than the connection's) is what says the attacker joined.
    accepted = _judged(_rec("join_stolen_keys", seen | {"after_ack": "none"},
                            {"server": {"MPTcpExtMPJoinAckRx": 2}}, subflows_expected=2), "accepted")
    assert (refused["verdict"], accepted["verdict"]) == ("refused", "accepted")
    assert "2 joins where the connection made 1" in accepted["why"]
    unclear = _judged(_rec("join_stolen_keys", seen | {"after_ack": "ack"},
                           {"server": {"MPTcpExtMPJoinAckRx": 1}}, subflows_expected=2), "accepted")
    assert unclear["verdict"] == "inconclusive"


def test_an_attacker_that_saw_no_handshake_is_inconclusive_not_refused():
    a = _judged(_rec("add_addr_bad_hmac", {"sent": 0, "error": "the attacker saw no MP_CAPABLE handshake"}))
    assert a["verdict"] == "inconclusive" and "handshake" in a["why"]


def test_add_addr_taken_when_the_client_joins_the_attacker():
    a = _judged(_rec("add_addr_stolen_keys", {"sent": 1, "join_syn_to_attacker": True},
                     {"client": {"MPTcpExtAddAddr": 1}}), "accepted")
    assert a["verdict"] == "accepted" and "MP_JOIN" in a["why"]


def test_remove_addr_counts_the_subflows_the_pm_events_show_closed():
    timeline = {"removed": [{"t_s": 1.87, "rem_id": 0}],
                "connections": [{"subflows": [{"closed_s": 1.8735}, {"closed_s": 1.8737},
                                              {"closed_s": 3.9}]}]}
    a = _judged(_rec("remove_addr", {"sent": 1}, {"client": {"MPTcpExtRmAddr": 1}},
                     pm_timeline=timeline), "accepted")
    assert a["evidence"]["pm.subflows_closed"] == 2 and "closed 2" in a["why"]


def test_rst_refused_by_challenge_acks_and_accepted_by_a_reset():
    refused = _judged(_rec("rst_in_window", {"sent": 20}, {"client": {"TcpExtTCPChallengeACK": 1,
                                                                       "TcpExtTCPACKSkippedChallenge": 19}},
                           protocol="tcp"))
    accepted = _judged(_rec("rst_exact", {"sent": 1}, {"client": {"TcpEstabResets": 1}}, protocol="tcp",
                            status="failed"), "accepted")
    assert (refused["verdict"], accepted["verdict"]) == ("refused", "accepted")


def test_a_failed_trial_delivered_nothing_after_its_series_ended():
    series = [100] * 170 + [0] * 2          # 10 ms intervals, delivery until 1.7 s
    rec = _rec("rst_exact", {"sent": 1}, {"client": {"TcpEstabResets": 1}}, protocol="tcp",
               status="failed", before_failure={"intervals_bytes": series, "interval_s": 0.01,
                                                "delivered_until_s": 1.7})
    a = _judged(rec, "accepted")
    assert a["rate_before"] == pytest.approx(100 * 8 / 0.01) and a["rate_unit"] == "bit/s"
    assert a["rate_after"] == pytest.approx(20 * 100 * 8 / 0.01 / 100)   # 20 of 100 intervals
    assert a["stopped_after_s"] == pytest.approx(0.2)


def test_a_trial_without_an_attack_gets_no_attack_fields():
    rec = {"protocol": "tcp", "events": [{"action": "down"}]}
    security.judge(rec, {})
    assert "attack" not in rec


def _scenario(**over):
    base = {"description": "d", "links": [{"rate_mbit": 50}, {"rate_mbit": 50}],
            "workload": {"duration_s": 4},
            "events": [{"at_s": 1.5, "link": 0, "action": "attack", "attack": "join_wrong_hmac"}],
            "protocols": ["mptcp"], "expect": {"attack": {"mptcp": "refused"}}}
    return cat.Scenario(**(base | over))


def test_an_attack_scenario_builds_an_on_path_attacker():
    spec = _scenario().topology()
    assert (spec.attacker, spec.attacker_link) == ("on_path", 0)
    assert "tc-mirred" in spec.needs()
    assert _scenario(events=[{"at_s": 1, "link": 0, "action": "attack",
                              "attack": "join_wrong_token"}]).topology().attacker == "off_path"


@pytest.mark.parametrize("over, says", [
    ({"protocols": ["tcp", "mptcp"]}, "applies to mptcp"),
    ({"expect": {}}, "refused or accepted"),
    ({"events": [{"at_s": 1, "link": 0, "action": "attack"}]}, "needs `attack`"),
    ({"events": [{"at_s": 0, "link": 0, "action": "attack", "attack": "rst_exact"}],
      "protocols": ["tcp"], "expect": {"attack": {"tcp": "accepted"}}}, "at_s > 0"),
    ({"family": 6}, "IPv4"),
])
def test_a_malformed_attack_scenario_says_what_is_wrong(over, says):
    with pytest.raises(ValueError, match=says):
        _scenario(**over)


def test_every_attack_scenario_of_the_library_validates():
    catalog = Catalog()
    names = [n for n in catalog.scenarios if n.startswith("attack-") and not n.endswith("-baseline")]
    assert len(names) >= 10
    for name in names:
        scenario = catalog.scenario(name)
        kind = next(e.attack for e in scenario.events if e.attack)
        assert (scenario.topology().attacker is None) == (kind in kinds.MIDDLEBOX)
    assert catalog.scenario("attack-syn-flood-baseline").topology().attacker is None


def test_the_report_section_names_each_attack_and_flags_the_unexpected():
    def trial(verdict, status="ok"):
        rec = _rec("join_wrong_hmac", {"sent": 2, "synack": "synack_join", "after_ack": "rst"},
                   {"server": {"MPTcpExtMPJoinAckHMacFailure": 1}}, status=status)
        rec["attack"] = {"kind": "join_wrong_hmac", "expected": "refused", "verdict": verdict,
                         "why": "because", "evidence": {"server.MPTcpExtMPJoinAckHMacFailure": 1},
                         "rate_before": 9e7, "rate_after": 8e7, "rate_unit": "bit/s",
                         "gap_ms": 20.0}
        return rec
    doc = {"scenarios": {"attack-join_wrong_hmac": {}},
           "trials": [trial("refused"), trial("refused"), trial("accepted")]}
    text = "\n".join(report.section(doc))
    assert "| attack-join_wrong_hmac | join_wrong_hmac | on-path | MPTCP | refused | refused 2, accepted 1" in text
    assert "90.0 Mbit/s → 80.0 Mbit/s" in text and "MPJoinAckHMacFailure 1" in text
    assert "**Not as expected:**" in text
    assert report.section({"scenarios": {}, "trials": []}) == []


def test_a_flood_is_refused_while_the_client_keeps_half_its_connections():
    series = [100] * 100 + [60] * 100 + [0]       # 10 ms intervals: 10000 → 6000 conn/s
    rec = _rec("syn_flood", {"sent": 60000, "achieved_pps": 20000, "mp_capable": True},
               {"server": {"TcpExtSyncookiesSent": 59000}}, intervals_transactions=series,
               interval_s=0.01)
    rec["events"][0]["at_s_from_first_byte"] = 1.0
    a = _judged(rec)
    assert a["verdict"] == "refused" and "60%" in a["why"]
    assert a["rate_unit"] == "transactions/s" and a["rate_before"] == pytest.approx(10000)
    assert a["evidence"]["server.TcpExtSyncookiesSent"] == 59000
    rec = _rec("syn_flood", {"sent": 60000}, intervals_transactions=[100] * 100 + [5] * 100 + [0],
               interval_s=0.01)
    rec["events"][0]["at_s_from_first_byte"] = 1.0
    assert _judged(rec)["verdict"] == "accepted"
    # Without syncookies the client's connect() gives up: service denied.
    rec = _rec("syn_flood", {"sent": 60000}, {"server": {"TcpExtTCPReqQFullDrop": 243770}},
               status="failed", reason="connect: EINPROGRESS")
    a = _judged(rec)
    assert a["verdict"] == "accepted" and "connect" in a["why"]


def test_a_sustained_attack_needs_a_rate_and_only_it():
    flood = {"at_s": 1, "link": 0, "action": "attack", "attack": "syn_flood"}
    with pytest.raises(ValueError, match="rate_pps"):
        _scenario(events=[flood], protocols=["tcp"], expect={"attack": {"tcp": "refused"}})
    with pytest.raises(ValueError, match="rate_pps"):
        _scenario(events=[{"at_s": 1, "link": 0, "action": "attack", "attack": "rst_exact",
                           "rate_pps": 10}])
    assert _scenario(events=[flood | {"rate_pps": 1000}], protocols=["tcp"],
                     expect={"attack": {"tcp": "refused"}}).topology().attacker == "off_path"


def test_the_console_line_says_the_verdict_and_flags_an_unexpected_one():
    from bench.run.progress import trial_line
    rec = {"scenario": "attack-x", "protocol": "mptcp", "repeat": 0, "status": "ok", "reason": None,
           "attack": {"verdict": "refused", "expected": "refused"}}
    assert "attack refused" in trial_line(rec).plain and "expected" not in trial_line(rec).plain
    rec["attack"]["verdict"] = "accepted"
    assert "attack accepted (expected refused)" in trial_line(rec).plain


def test_rewritten_payload_is_judged_on_the_receivers_check_of_every_byte():
    wrong = _judged(_rec("alter_payload", {"sent": 1}, {"server": {"MPTcpExtDataCsumErr": 1}},
                         status="failed", before_failure={"verify": {"checked_bytes": 9_900_624,
                                                                     "mismatches": 4,
                                                                     "first_bad_offset": 8_805_568}}),
                    "accepted")
    assert wrong["verdict"] == "accepted" and "offset 8805568" in wrong["why"]
    assert wrong["evidence"]["server.MPTcpExtDataCsumErr"] == 1
    right = _judged(_rec("alter_payload", {"sent": 1}, verify={"checked_bytes": 30_000_000, "mismatches": 0}))
    assert right["verdict"] == "refused"
    untouched = _judged(_rec("alter_payload", {"sent": 0}, verify={"checked_bytes": 1, "mismatches": 0}))
    assert untouched["verdict"] == "inconclusive"


def test_the_rewriting_middlebox_is_the_router_not_an_attacker_namespace():
    from harness.net import middlebox
    s = _scenario(events=[{"at_s": 1.5, "link": 1, "action": "attack", "attack": "alter_payload", "count": 2}],
                  protocols=["tcp", "mptcp"], expect={"attack": {"tcp": "accepted", "mptcp": "accepted"}})
    assert s.topology().attacker is None
    rules = middlebox.alter_ruleset(1, 2)
    assert "burst 2 packets" in rules and 'iifname "rc1"' in rules
    # One rule per TCP header length: the payload starts at doff * 32 bits.
    assert "tcp doff 8 ip length > 56 limit name \"once\" counter @th,256,32 set 0xdeadbeef" in rules
