"""An attack's verdict on one trial, from the kernel's counters and what the
attacker saw (docs/security.md): `refused`, `accepted`, or `inconclusive`
(the attacker could not attack: no handshake seen, no result), with the
evidence it rests on and what the victim's delivery did around it."""
from __future__ import annotations

import statistics

from bench.record import failover

WINDOW_S = 1.0      # delivery compared over this long before and after the attack
REMOVAL_S = 0.5     # a subflow closed this soon after a REMOVE_ADDR closed because of it


def _mib(rec: dict, side: str, name: str) -> int:
    return (rec.get("mib") or {}).get(side, {}).get(name, 0)


def _evidence(rec: dict, names: dict[str, tuple[str, ...]]) -> dict:
    return {f"{side}.{n}": _mib(rec, side, n) for side, ns in names.items() for n in ns}


def _judge_join_wrong_token(rec, res, delivery):
    ev = _evidence(rec, {"server": ("MPTcpExtMPJoinNoTokenFound", "MPTcpExtMPJoinSynRx")})
    ev["attacker.replies"] = res.get("replies")
    if (res.get("replies") or {}).get("synack_join"):
        return "accepted", ev, "the server answered an unknown token with an MP_JOIN SYN/ACK"
    if ev["server.MPTcpExtMPJoinNoTokenFound"] >= res.get("sent", 0) > 0:
        return "refused", ev, f"every one of {res['sent']} SYNs counted as an unknown token"
    return "inconclusive", ev, "the server's counters do not account for the SYNs sent"


def _judge_join(rec, res, delivery):
    """The server's joins beyond the connection's own (one per further
    expected subflow) are the attacker's; its HMAC failures are refusals."""
    ev = _evidence(rec, {"server": ("MPTcpExtMPJoinSynRx", "MPTcpExtMPJoinAckRx",
                                    "MPTcpExtMPJoinAckHMacFailure")})
    ev.update({f"attacker.{k}": res.get(k) for k in ("synack", "server_hmac_checks", "after_ack")})
    own = max(0, (rec.get("subflows_expected") or 1) - 1)
    joined = ev["server.MPTcpExtMPJoinAckRx"] - own
    failed = ev["server.MPTcpExtMPJoinAckHMacFailure"]
    if res.get("synack") != "synack_join":
        return "inconclusive", ev, f"the server did not answer the MP_JOIN SYN with its own ({res.get('synack')})"
    if failed >= 1 and joined <= 0:
        return "refused", ev, "the third ACK's HMAC failed at the server, which took no subflow"
    if joined >= 1 and failed == 0:
        return "accepted", ev, (f"the server took the attacker's third ACK ({own + joined} joins where the "
                                f"connection made {own})" + (", and acknowledged it"
                                                             if res.get("after_ack") == "ack" else ""))
    return "inconclusive", ev, f"HMAC failures {failed}, joins beyond the connection's own {joined}"


def _judge_add_addr(rec, res, delivery):
    ev = _evidence(rec, {"client": ("MPTcpExtAddAddr", "MPTcpExtEchoAddTx", "MPTcpExtMPJoinSynTx")})
    ev["attacker.join_syn_to_attacker"] = res.get("join_syn_to_attacker")
    if res.get("join_syn_to_attacker") or ev["client.MPTcpExtAddAddr"] >= 1:
        return "accepted", ev, ("the client took the address" + (
            " and sent an MP_JOIN SYN to it" if res.get("join_syn_to_attacker") else ""))
    return "refused", ev, "the client counted no ADD_ADDR and opened nothing to the attacker"


def _closed_by_removal(rec: dict) -> int | None:
    """Subflows the client's PM events show closed within REMOVAL_S of a
    REMOVE_ADDR it received (the MIB's RmSubflow counts only some paths)."""
    timeline = rec.get("pm_timeline")
    if not timeline:
        return None
    removed = [r["t_s"] for r in timeline.get("removed") or []]
    return sum(1 for c in timeline.get("connections") or [] for sf in c.get("subflows") or []
               if sf.get("closed_s") is not None
               and any(0 <= sf["closed_s"] - t <= REMOVAL_S for t in removed))


def _judge_remove_addr(rec, res, delivery):
    ev = _evidence(rec, {"client": ("MPTcpExtRmAddr", "MPTcpExtRmSubflow", "MPTcpExtRmAddrDrop")})
    ev["pm.subflows_closed"] = _closed_by_removal(rec)
    if ev["client.MPTcpExtRmAddr"] >= 1:
        closed = ev["pm.subflows_closed"]
        return "accepted", ev, ("the client acted on the REMOVE_ADDR" + (
            f" and closed {closed} subflow(s) with it" if closed is not None else ""))
    return "refused", ev, "the client counted no REMOVE_ADDR"


def _judge_fastclose(rec, res, delivery):
    ev = _evidence(rec, {"client": ("MPTcpExtMPFastcloseRx", "MPTcpExtMPRstTx")})
    if ev["client.MPTcpExtMPFastcloseRx"] >= 1:
        return "accepted", ev, "the client took the MP_FASTCLOSE and closed its connection"
    return "refused", ev, "the client counted no MP_FASTCLOSE"


def _judge_rst(rec, res, delivery):
    ev = _evidence(rec, {"client": ("TcpEstabResets", "TcpExtTCPChallengeACK",
                                    "TcpExtTCPACKSkippedChallenge")})
    if ev["client.TcpEstabResets"] >= 1:
        what = "the connection" if rec["protocol"] == "tcp" else "the subflow on the attacked link"
        return "accepted", ev, f"the client reset {what}"
    if ev["client.TcpExtTCPChallengeACK"] + ev["client.TcpExtTCPACKSkippedChallenge"] >= 1:
        return "refused", ev, "the client answered with challenge ACKs (RFC 5961) and reset nothing"
    return "inconclusive", ev, "no reset and no challenge ACK counted"


# A flood denies service when the client keeps less than this share of its
# connection rate over the first flooded second. With syncookies 6.18 here
# kept 0.51-0.84 (its first 0.1-0.2 s complete nothing while they take
# over), an emulated 6.1 0.33-0.59 (the flood and the victim share its CPU);
# without them the same flood made the client's connect() give up here
# (attack-syn-flood-no-cookies, the control).
FLOOD_SERVED_SHARE = 0.1


def _judge_flood(rec, res, delivery):
    ev = _evidence(rec, {"server": ("TcpExtSyncookiesSent", "TcpExtSyncookiesRecv",
                                    "TcpExtTCPReqQFullDoCookies", "TcpExtTCPReqQFullDrop",
                                    "TcpExtListenDrops", "MPTcpExtMPCapableSYNRX")})
    ev.update({f"attacker.{k}": res.get(k) for k in ("achieved_pps", "mp_capable")})
    before, after = delivery.get("rate_before"), delivery.get("rate_after")
    if res.get("sent") and rec.get("status") == "failed":
        return "accepted", ev, f"the client's connections failed under the flood ({rec.get('reason')})"
    if not res.get("sent") or not before:
        return "inconclusive", ev, "no flood was sent, or no connection completed before it"
    share = (after or 0) / before
    rate = f" of {res.get('achieved_pps') or 0:.0f} SYNs a second"
    if share >= FLOOD_SERVED_SHARE:
        return "refused", ev, f"the client kept {share:.0%} of its connections a second under the flood{rate}"
    return "accepted", ev, f"the flood{rate} took the client down to {share:.0%} of its connections a second"


def _verified(rec: dict) -> dict:
    """The receiver's check of every byte: the trial's, or a failed trial's."""
    return rec.get("verify") or (rec.get("before_failure") or {}).get("verify") or {}


def _judge_alter(rec, res, delivery):
    ev = _evidence(rec, {"server": ("MPTcpExtDataCsumErr", "MPTcpExtMPFailTx", "MPTcpExtInfiniteMapRx",
                                    "MPTcpExtDSSCorruptionFallback", "MPTcpExtDSSCorruptionReset"),
                         "client": ("MPTcpExtMPFailRx", "MPTcpExtInfiniteMapTx")})
    checked = _verified(rec)
    ev.update({"router.segments_rewritten": res.get("sent"),
               "receiver.wrong_bytes": checked.get("mismatches"),
               "receiver.first_wrong_offset": checked.get("first_bad_offset")})
    if not res.get("sent") or not checked.get("checked_bytes"):
        return "inconclusive", ev, "no segment was rewritten, or the receiver checked no byte"
    if checked.get("mismatches"):
        return "accepted", ev, (f"{checked['mismatches']} rewritten byte(s) reached the application, "
                                f"the first at offset {checked.get('first_bad_offset')}")
    return "refused", ev, f"{res['sent']} segment(s) rewritten, and every byte delivered was right"


JUDGES = {
    "join_wrong_token": _judge_join_wrong_token,
    "join_wrong_hmac": _judge_join, "join_stolen_keys": _judge_join,
    "add_addr_bad_hmac": _judge_add_addr, "add_addr_stolen_keys": _judge_add_addr,
    "remove_addr": _judge_remove_addr,
    "fastclose_stolen_key": _judge_fastclose,
    "rst_in_window": _judge_rst, "rst_exact": _judge_rst,
    "syn_flood": _judge_flood,
    "alter_payload": _judge_alter,
}


def _delivery(rec: dict, at_s: float | None) -> dict:
    """The receiver's rate over WINDOW_S before and after the attack, the
    longest gap after it (failover.metrics), from the trial's series or,
    for a failed trial, from what it moved before failing."""
    source = rec if rec.get("intervals_bytes") or rec.get("intervals_transactions") \
        else rec.get("before_failure") or {}
    bits = "intervals_bytes" in source
    series = source.get("intervals_bytes") or source.get("intervals_transactions")
    step = source.get("interval_s")
    if not series or not step or at_s is None:
        return {}
    first = int(at_s / step)
    span = max(1, int(WINDOW_S / step))
    failed = rec.get("status") == "failed"
    if failed:      # the receiver gave up: nothing came after its series
        series = series + [0] * max(0, first + span - len(series))
    before, after = series[max(0, first - span):first], series[first:first + span]
    scale = 8 / step if bits else 1 / step
    out = {"rate_unit": "bit/s" if bits else "transactions/s",
           "rate_before": statistics.mean(before) * scale if before else None,
           "rate_after": statistics.mean(after) * scale if after else None}
    if failed:
        until = source.get("delivered_until_s")
        out["delivered_until_s"] = until
        out["stopped_after_s"] = None if until is None else max(0.0, until - at_s)
    else:
        out.update(failover.metrics(series, step, at_s) or {})
    return out


def judge(rec: dict, expect: dict) -> None:
    """The record's `attack` fields, when its trial had an attack."""
    event = next((e for e in rec.get("events") or [] if e.get("action") == "attack"), None)
    if event is None:
        return
    res = event.get("result") or {}
    at_s = event.get("at_s_from_first_byte")
    if at_s is None:
        at_s = event["at_s"]      # no first byte time (a failed trial): the schedule's own
    delivery = _delivery(rec, at_s)
    if event.get("error") or res.get("error"):
        verdict, evidence, why = "inconclusive", {}, event.get("error") or res["error"]
    else:
        verdict, evidence, why = JUDGES[event["attack"]](rec, res, delivery)
    rec["attack"] = {"kind": event["attack"], "expected": expect.get(rec["protocol"]),
                     "verdict": verdict, "why": why, "evidence": evidence,
                     "attacker": res, **delivery}
