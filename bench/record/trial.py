"""From what a driver measured to a trial record, and the verdict on it.

The record is flat where the core columns are, nested for detail.  An
MPTCP trial is `ok` only when both ends and the MIB counters agree it was
MPTCP and the expected subflows were there; otherwise it is `fallback` or
`partial` and stays out of the MPTCP aggregates.
"""
from __future__ import annotations

from bench.record import cpu_fields, failover, linkmodel, pm_fields, restore, security, subflow_grid, workload_fields
from harness.host.sockinfo import IPPROTO_MPTCP
from harness.net import addressing

UNSUPPORTED_ERRNOS = {"EPROTONOSUPPORT", "ENOPROTOOPT", "EAFNOSUPPORT", "EOPNOTSUPP"}
GB = 1e9


def _base(scenario, protocol: str, p: dict, driver: str, *, run_id: str, repeat: int,
          seq: int, started_at: float) -> dict:
    rec: dict = {
        "run_id": run_id, "scenario": scenario.name, "protocol": protocol, "driver": driver,
        "repeat": repeat, "seq": seq, "status": "ok", "reason": None,
        "family": p["family"], "started_at": started_at,
        "server_protocol": p.get("server_protocol") or protocol,
        "client_protocol": p.get("protocol", protocol),
        "cpu_placement": scenario.cpu.label(), "cpu_sender": p["cpu_sender"],
        "cpu_receiver": p["cpu_receiver"],
        "subflows_expected": scenario.expected_subflows() if protocol == "mptcp" else 1,
        "expected_goodput_bps": None,    # bulk only, below
        "expected_is_upper_bound": linkmodel.is_upper_bound(scenario),
        "attempt": 1,                    # the orchestrator counts re-runs of disturbed trials
    }
    for key in ("duration_s", "bytes", "goodput_bps", "cpu_sender_s", "cpu_receiver_s",
                "cpu_system_s", "cpu_system_s_per_gb", "subflows", "retransmits",
                *cpu_fields.COLUMNS, *pm_fields.COLUMNS):
        rec[key] = None
    rec.update(workload_fields.base(p))
    if rec["workload"] == "bulk":
        rec["expected_goodput_bps"] = linkmodel.goodput_limit_bps(scenario, protocol)
    return rec


def build(raw: dict, scenario, protocol: str, *, run_id: str, repeat: int, seq: int) -> dict:
    rec = _build(raw, scenario, protocol, run_id=run_id, repeat=repeat, seq=seq)
    security.judge(rec, scenario.expect.attack)
    return rec


def _build(raw: dict, scenario, protocol: str, *, run_id: str, repeat: int, seq: int) -> dict:
    rec = _base(scenario, protocol, raw["params"], raw["driver"], run_id=run_id,
                repeat=repeat, seq=seq, started_at=raw["started_at"])
    rec["mib"], rec["error"] = raw["mib"], raw["error"]
    rec["events"] = raw.get("events") or []
    rec["delay_backend"] = raw.get("delay_backend")
    rec.update(pm_fields.fields(raw.get("pm"), protocol))
    if protocol == "mptcp" and (raw.get("pm") or {}).get("timeline"):
        rec["pm_timeline"] = raw["pm"]["timeline"]
    if raw.get("offloads"):
        rec["offloads"] = raw["offloads"]
    if raw.get("delay_line"):
        rec["delay_line"] = raw["delay_line"]
    if raw.get("tool"):
        rec["tool"] = raw["tool"]
    if raw["error"]:
        err = raw["error"]
        unsupported = err.get("unsupported") or (err.get("call", "").startswith("socket(")
                                                 and err.get("errno") in UNSUPPORTED_ERRNOS)
        rec["status"] = "unsupported" if unsupported else "failed"
        rec["reason"] = err.get("message")
        if raw.get("partial"):
            rec["before_failure"] = seen = before_failure(raw["partial"], raw["params"])
            bad = (seen.get("verify") or {}).get("mismatches")
            if bad:     # never hidden behind the failure: damaged data reached the application
                rec["reason"] += (f"; before it failed the receiver got {seen['received_bytes']} bytes "
                                  f"(the sender had sent {seen['sent_bytes']}), {bad} of them wrong, "
                                  f"the first at offset {seen['verify']['first_bad_offset']}")
        if err.get("unsupported") and err.get("mode"):
            rec["mode_support"] = workload_fields.support_from_error(err, raw["params"])
        return rec
    if rec["workload"] == "bulk":
        _measures(rec, raw)
        workload_fields.bulk_extras(rec, raw)
    else:
        workload_fields.MEASURES[rec["workload"]](rec, raw)
        introspection(rec, raw["sender"]["info"], raw["receiver"]["info"])
    retries = (raw.get("sender") or {}).get("tcp_retries")
    if retries:
        rec["tcp_retry"] = retries[0] | {"connections": len(retries)}
    if rec.get("subflow_detail_server"):
        rec["server_learned"] = server_learned(rec["subflow_detail_server"], raw["mib"]["server"])
    cpu_fields.own_cpu(rec, rec.get("system") or raw["outer_window"], raw.get("top_foreign"),
                       raw.get("load"))
    if rec["workload"] in ("bulk", "rr"):
        cpu_fields.controller(rec, {"sender": raw["sender"], "receiver": raw["receiver"]})
    checked = _verify(rec, raw, protocol)
    verdict = workload_fields.verdict(rec) or checked
    if verdict:
        rec["status"], rec["reason"] = verdict
    if retries and rec["status"] == "fallback":
        r = rec["tcp_retry"]
        rec["reason"] = (f"the client's {r['call']} failed with {r['errno']}; it retried with TCP "
                         f"({r['lost_us']:.0f} µs lost); {rec['reason']}")
    return rec


def interrupted(scenario, protocol: str, params, driver: str, *, run_id: str, repeat: int,
                seq: int, signame: str = "a signal") -> dict:
    """The record of a trial cut short by Ctrl-C or SIGTERM."""
    rec = _base(scenario, protocol, params.as_dict(), driver, run_id=run_id, repeat=repeat,
                seq=seq, started_at=None)
    rec["status"], rec["reason"] = "interrupted", f"interrupted by {signame}"
    return rec


def skipped(scenario, protocol: str, params, driver: str, *, run_id: str, seq: int,
            reason: str) -> dict:
    """The record standing for a scenario this kernel cannot run."""
    rec = _base(scenario, protocol, params.as_dict(), driver, run_id=run_id, repeat=0,
                seq=seq, started_at=None)
    rec["status"], rec["reason"] = "skipped", f"skipped: {reason}"
    return rec


def before_failure(partial: dict, params: dict) -> dict:
    """What a failed bulk trial had moved when it failed: the bytes the
    sender handed to the kernel, what the receiver got (its series and its
    verification of every byte), so that a connection that hung shows when
    delivery stopped and that nothing it delivered was corrupt."""
    snd = (partial.get("sender") or {}).get("loop") or {}
    rcv = (partial.get("receiver") or {}).get("loop") or {}
    out: dict = {"sent_bytes": snd.get("bytes"), "received_bytes": rcv.get("bytes")}
    if rcv:
        step = rcv["interval_ns"] / 1e9
        series = rcv.get("intervals") or []
        last = max((i for i, v in enumerate(series) if v), default=None)
        out.update({"interval_s": step, "intervals_bytes": series,
                    "delivered_until_s": None if last is None else (last + 1) * step})
        if params.get("verify"):
            v = rcv.get("verify") or {}
            out["verify"] = {"checked_bytes": v.get("checked", 0), "mismatches": v.get("mismatched", 0),
                             "first_bad_offset": v.get("first_bad_offset")}
    return out


def _measures(rec: dict, raw: dict) -> None:
    snd, rcv = raw["sender"], raw["receiver"]
    loop = rcv["loop"]
    failover.place(rec, loop, loop["intervals"])     # on the receiver's series
    span_s = (loop["last_ns"] - loop["first_ns"]) / 1e9
    gb = loop["bytes"] / GB
    # The sender's own window is the exact transfer; a driver without one
    # (iperf3) is measured over trialrun's outer window, start-up included.
    system = snd.get("system") or raw["outer_window"]
    rec["cpu_system_window"] = "sender" if snd.get("system") else "outer"
    rec.update({
        "duration_s": span_s, "bytes": loop["bytes"],
        "goodput_bps": loop["bytes"] * 8 / span_s if span_s > 0 else None,
        "cpu_sender_s": snd["cpu_s"], "cpu_receiver_s": rcv["cpu_s"],
        "cpu_system_s": system["busy_s"], "cpu_softirq_s": system["softirq_s"],
        "cpu_system_s_per_gb": system["busy_s"] / gb if gb else None,
        # The outer window, the same definition for every driver (tool
        # start-up included): what comparisons across drivers use.
        "cpu_system_outer_s_per_gb": raw["outer_window"]["busy_s"] / gb if gb else None,
        "cpu_sender_s_per_gb": snd["cpu_s"] / gb if gb else None,
        "cpu_receiver_s_per_gb": rcv["cpu_s"] / gb if gb else None,
        "retransmits": raw["mib"]["client"].get("TcpRetransSegs", 0),
        "interval_s": loop["interval_ns"] / 1e9,
        "intervals_bytes": loop["intervals"],
        "system": system,
        "sender_send_bytes": snd["loop"]["bytes"],
        "connect_ms": snd["connect_ns"] / 1e6 if snd.get("connect_ns") is not None else None,
        "calls": {"send": snd["loop"].get("calls"), "recv": loop.get("calls")},   # None: iperf3
        "window_s": snd["window_ns"] / 1e9 if snd.get("window_ns") else None,
    })
    introspection(rec, snd["info"], rcv["info"])
    if snd.get("engine_loop"):          # native only
        rec["engine_loop"] = {"sender": snd["engine_loop"], "receiver": rcv.get("engine_loop")}
    if rcv.get("flows"):
        rates = [f["goodput_bps"] or 0.0 for f in rcv["flows"]]
        rec["flows_goodput_bps"] = rates
        rec["fairness_jain"] = jain(rates)
    if snd.get("subflow_series"):
        rec["subflow_intervals_bytes"] = subflow_grid.on_grid(
            snd["subflow_series"], loop["start_ns"], loop["interval_ns"], len(loop["intervals"]))
        rec["subflow_intervals_keys"] = [f"{sf['local']} → {sf['remote']}"
                                         for sf in snd["subflow_series"]["subflows"]]
    rec.update(restore.fields(rec, rcv.get("peer")))


def server_learned(subflows: list[dict], mib: dict) -> dict:
    """What an MPTCP connection told the server about the client (path
    correlation): the client addresses its subflows came from (as the
    server's socket lists them at the end of the transfer), and the
    ADD_ADDR, REMOVE_ADDR and joins it received (MIB deltas)."""
    addresses = sorted({addressing.host_of(sf["remote"]) for sf in subflows if sf.get("remote")})
    return {"client_addresses": addresses,
            "add_addr_received": mib.get("MPTcpExtAddAddr", 0),
            "remove_addr_received": mib.get("MPTcpExtRmAddr", 0),
            "joins_received": mib.get("MPTcpExtMPJoinSynRx", 0)}


def jain(rates: list[float]) -> float | None:
    """Jain's fairness index of the flows' goodputs: 1 when they are equal,
    1/n when one flow has everything."""
    square = sum(r * r for r in rates)
    return sum(rates) ** 2 / (len(rates) * square) if square else None


def introspection(rec: dict, client: dict, server: dict) -> None:
    """Subflows as the client saw them (and per-subflow detail from both
    ends), and each end's MPTCP view for the verdict."""
    full = client.get("full_info")
    if full:
        rec["subflows"] = established(full, server.get("full_info"))
        rec["subflow_detail"] = full["subflows"]
        carried = [sf.get("bytes_acked") or 0 for sf in full["subflows"]]
        total = sum(carried)
        rec["subflow_share"] = [c / total for c in carried] if total else None
    elif "mptcp_info" in client:
        rec["subflows"] = client["mptcp_info"].get("subflows", 0) + 1
    else:
        rec["subflows"] = 1
    if server.get("full_info"):
        rec["subflow_detail_server"] = server["full_info"]["subflows"]
    rec["mptcp"] = {"client": _mptcp_view(client), "server": _mptcp_view(server)}


def established(client: dict, server: dict | None) -> int:
    """The client's subflows that completed their handshake: those the
    server's socket lists too, or that carried data.  The kernel lists (and
    counts) a subflow from the moment its path manager starts it: a join
    whose SYN a middlebox drops is one of them, though it never carries a
    byte.  Without the server's view, the kernel's count."""
    if server is None:
        return client["num_subflows"]
    answered = {(sf.get("remote"), sf.get("local")) for sf in server["subflows"]}
    return sum(1 for sf in client["subflows"]
               if (sf.get("local"), sf.get("remote")) in answered
               or (sf.get("bytes_acked") or 0) > 0 or (sf.get("bytes_received") or 0) > 0)


def _mptcp_view(info: dict) -> dict:
    """What one end says about its socket: from getsockopt() on our own
    socket, or from sock_diag (`source`) when a driver's tool owns it."""
    view = {"so_protocol": info["so_protocol"], "source": info.get("source", "getsockopt")}
    for key in ("mptcp_info", "mptcp_info_error", "unobserved", "accepted_protocols"):
        if key in info:
            view[key] = info[key]
    return view


def _verify(rec: dict, raw: dict, protocol: str) -> tuple[str, str] | None:
    """(status, reason) when the trial is not what it claims to be.  A
    trial whose client is fixed to TCP (the scenario's client_protocol)
    measures its listener: every socket on the wire must then be TCP."""
    if protocol == "tcp" or raw["params"].get("protocol") == "tcp":
        views = [rec["mptcp"][s] for s in ("client", "server")]
        rec["mptcp_verified"] = None
        if any("unobserved" in v for v in views):
            return "failed", "; ".join(v["unobserved"] for v in views if "unobserved" in v)
        protos = {v["so_protocol"] for v in views}
        if protos != {6}:
            return "failed", f"a TCP trial ran on protocol(s) {sorted(protos)}"
        return None
    evidence = mptcp_evidence(rec["mptcp"], raw["mib"])
    counted = every_connection(rec, raw)
    if counted:
        rec["mptcp_connections"] = counted
        if counted["mp_capable"] < counted["connections"]:
            evidence.append(f"{counted['mp_capable']} of {counted['connections']} connections "
                            "completed the MP_CAPABLE handshake (server MPCapableACKRX)")
    rec["mptcp_verified"] = not evidence
    if evidence:
        return "fallback", "; ".join(evidence)
    if counted and counted["joins"] < counted["joins_expected"]:
        return "partial", joins_short(counted)
    if rec["subflows_expected"] and rec["subflows"] < rec["subflows_expected"]:
        joins = {k[len("MPTcpExt"):]: v for k, v in raw["mib"]["client"].items()
                 if k.startswith("MPTcpExtMPJoin")}
        detail = ", ".join(f"{k} +{v}" for k, v in joins.items()) or "no join attempted"
        return "partial", (f"{rec['subflows']} of {rec['subflows_expected']} expected subflows "
                           f"(client {detail})")
    return None


def every_connection(rec: dict, raw: dict) -> dict | None:
    """With several connections, what the server's MIB counters say of all
    of them (one is introspected): MP_CAPABLE handshakes completed and joins
    established, against the connections and the joins the path manager
    should make.  None for one connection, or where the counters are absent."""
    p = raw["params"]
    n = rec.get("connections") or (p.get("flows", 1) + (p.get("load_flows", 0) if
                                                        rec["workload"] == "rr_under_load" else 0))
    server = raw["mib"].get("server") or {}
    if n <= 1 or rec["workload"] == "crr" or "MPTcpExtMPCapableACKRX" not in server:
        return None
    extra = max(0, (rec.get("subflows_expected") or 1) - 1)
    client = raw["mib"].get("client") or {}
    return {"connections": n, "mp_capable": server["MPTcpExtMPCapableACKRX"],
            "joins": server.get("MPTcpExtMPJoinAckRx", 0), "joins_expected": n * extra,
            "join_syns_sent": client.get("MPTcpExtMPJoinSynTx", 0),
            "join_syns_received": server.get("MPTcpExtMPJoinSynRx", 0)}


def joins_short(counted: dict) -> str:
    """Why fewer joins were made than expected: the first stage that fell
    short, from the client's path manager to the server's handshake."""
    expected, sent = counted["joins_expected"], counted["join_syns_sent"]
    got, done = counted["join_syns_received"], counted["joins"]
    where = ("the client's path manager sent fewer MP_JOIN SYNs" if sent < expected else
             "join SYNs were lost on the way" if got < sent else
             "the server completed fewer join handshakes than it received")
    return (f"{done} of {expected} expected joins over {counted['connections']} connections "
            f"(server MPJoinAckRx): {where} (MPJoinSynTx {sent}, server MPJoinSynRx {got})")


def mptcp_evidence(views: dict, mib: dict) -> list[str]:
    """Every sign that an MPTCP trial was in fact TCP; empty when verified."""
    found = []
    for side in ("client", "server"):
        v = views[side]
        if "unobserved" in v:
            found.append(f"{v['unobserved']}, so MPTCP is unverified")
        elif v["so_protocol"] != IPPROTO_MPTCP:
            found.append(f"{side} socket protocol is {v['so_protocol']}, not MPTCP")
        elif "mptcp_info_error" in v:
            found.append(f"{side} MPTCP_INFO: {v['mptcp_info_error']}")
        elif v.get("mptcp_info", {}).get("fallback"):
            found.append(f"{side} MPTCP_INFO flags fallback")
    for side in ("client", "server"):
        for name, value in mib[side].items():
            if name.startswith("MPTcpExt") and "Fallback" in name and value > 0:
                found.append(f"{side} {name} +{value}")
    return found
