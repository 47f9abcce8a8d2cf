"""The record fields of the engine's workloads beyond bulk goodput: which
workload and modes ran, what each mode really did (the support matrix),
data verification, the latency columns of rr / crr / rr_under_load and
the cost-of-a-connection columns of hold.

Pure functions on a driver's raw result, used by bench/trial.py.
"""
from __future__ import annotations

from bench.record import failover
from harness.measure import latency

LATENCY_COLUMNS = ("transactions", "transactions_per_s", "latency_us_p50", "latency_us_p90",
                   "latency_us_p99", "latency_us_p999", "latency_us_max",
                   "cpu_system_us_per_transaction")
HOLD_COLUMNS = ("connections", "accept_per_s", "connect_per_s", "conn_mem_bytes")
BULK_MOVING = ("bulk", "rr_under_load")   # workloads with bulk flows, hence engine modes


def base(params: dict) -> dict:
    """Workload, modes and empty latency columns of any record (raw results
    from before workload kinds existed are bulk with the copy modes)."""
    kind = params.get("workload", "bulk")
    moves = kind in BULK_MOVING
    return {"workload": kind, "flows": params.get("flows", 1),
            "send_mode": params.get("send_mode", "send") if moves else None,
            "recv_mode": params.get("recv_mode", "recv") if moves else None,
            "recv_lowat_kib": params.get("recv_lowat", 0) // 1024 if moves else None,
            "notsent_lowat_kib": params.get("notsent_lowat", 0) // 1024 if moves else None,
            **{c: None for c in (*LATENCY_COLUMNS, *HOLD_COLUMNS)}}


def support_from_error(err: dict, params: dict) -> dict:
    """mode_support of a trial ended by a refused capability."""
    direction = "recv" if (err.get("mode") or "").startswith("receive") else "send"
    mode = params.get(f"{direction}_mode", "send" if direction == "send" else "recv")
    reason = err.get("message", "")
    reason = reason.split("unsupported: ", 1)[-1]
    return {direction: {"mode": mode, "status": "unsupported", "reason": reason}}


def bulk_extras(rec: dict, raw: dict) -> None:
    """Mode support and verification of a bulk trial."""
    snd, rcv = raw["sender"], raw["receiver"]
    rec["mode_support"] = _support(snd, rcv, raw["params"])
    rec["verify"] = verification(raw["params"].get("verify", False), snd["loop"]["bytes"],
                                 rcv["loop"])


def _support(snd: dict, rcv: dict, params: dict) -> dict:
    default = {"status": "works", "reason": None}
    return {"send": snd.get("mode") or {"mode": params.get("send_mode", "send"), **default},
            "recv": rcv.get("mode") or {"mode": params.get("recv_mode", "recv"), **default}}


def verification(enabled: bool, sent: int, received: dict) -> dict:
    if not enabled:
        return {"enabled": False, "mismatches": None, "missing_bytes": None}
    v = received.get("verify") or {}
    return {"enabled": True, "checked_bytes": v.get("checked", 0),
            "mismatches": v.get("mismatched", 0), "first_bad_offset": v.get("first_bad_offset"),
            "missing_bytes": sent - received["bytes"]}


def verdict(rec: dict) -> tuple[str, str] | None:
    """(status, reason) when a mode only pretended or data was damaged."""
    for direction, s in (rec.get("mode_support") or {}).items():
        if s["status"] == "unsupported":
            return "unsupported", f"{direction} mode {s['mode']} unsupported: {s['reason']}"
    v = rec.get("verify") or {}
    if v.get("enabled") and (v["mismatches"] or v["missing_bytes"]):
        where = (f", first at offset {v['first_bad_offset']}"
                 if v.get("first_bad_offset") is not None else "")
        return "failed", (f"verification: {v['mismatches']} mismatched byte(s){where}, "
                          f"{v['missing_bytes']} byte(s) missing")
    return None


def latency_columns(phase: dict, with_cpu: bool = True) -> dict:
    """The latency columns of one RR/CRR phase measured by the client."""
    loop = phase["loop"]
    lat, tx = loop["latency"], loop["transactions"]
    busy = phase["system"]["busy_s"]
    cols = {"transactions": tx,
            "transactions_per_s": latency.rate(tx, loop["start_ns"], loop["end_ns"]),
            **{f"latency_us_{k}": lat[f"{k}_us"] for k in ("p50", "p90", "p99", "p999", "max")},
            "cpu_system_us_per_transaction": busy * 1e6 / tx if tx and with_cpu else None}
    return cols


def _common(rec: dict, raw: dict, phase: dict, server_loop: dict) -> None:
    loop = phase["loop"]
    system = phase["system"]
    rec.update({
        "duration_s": (loop["end_ns"] - loop["start_ns"]) / 1e9, "bytes": loop["bytes"],
        "cpu_sender_s": phase["cpu_s"], "cpu_receiver_s": raw["receiver"].get("cpu_s"),
        "cpu_system_s": system["busy_s"], "cpu_softirq_s": system["softirq_s"],
        "system": system,
        "retransmits": raw["mib"]["client"].get("TcpRetransSegs", 0),
        "latency_samples_us": loop["latency_samples_us"],
        "interval_s": loop["interval_ns"] / 1e9,
        "intervals_transactions": loop["intervals"],
        "transactions_detail": {"client_per_flow": loop["per_flow"],
                                "server": server_loop["transactions"],
                                "server_per_flow": server_loop["per_flow"]},
    })


def rr(rec: dict, raw: dict) -> None:
    snd = raw["sender"]
    _common(rec, raw, snd, raw["receiver"]["loop"])
    rec.update(latency_columns(snd))
    if rec.get("events"):    # on the client's series of completed transactions
        failover.place(rec, snd["loop"], snd["loop"]["intervals"], recovery=False)


def crr(rec: dict, raw: dict) -> None:
    rr(rec, raw)
    # Each connection lives a few hundred µs: the path manager's joins do
    # not complete within it, so a subflow count says nothing here.
    rec["subflows_expected"] = None


def rr_under_load(rec: dict, raw: dict) -> None:
    """Latency columns from the loaded phase; the unloaded phase beside
    them.  CPU per transaction is left out: under load the busy time is
    the bulk flows'."""
    snd, rcv = raw["sender"], raw["receiver"]
    _common(rec, raw, snd["loaded"], rcv["loop"])
    rec.update(latency_columns(snd["loaded"], with_cpu=False))
    rec["latency_unloaded"] = {**latency_columns(snd["unloaded"]),
                               "latency_samples_us": snd["unloaded"]["loop"]["latency_samples_us"]}
    rec["transactions_detail"]["client_unloaded_per_flow"] = snd["unloaded"]["loop"]["per_flow"]
    rec["load"] = _load(snd["load"], rcv["load"])
    rec["mode_support"] = _support(snd["load"][0], rcv["load"][0], raw["params"])


def _load(sent: list[dict], received: list[dict]) -> dict:
    loops = [r["loop"] for r in received]
    total = sum(lp["bytes"] for lp in loops)
    first = min(lp["first_ns"] for lp in loops)
    last = max(lp["last_ns"] for lp in loops)
    span = (last - first) / 1e9
    return {"flows": len(loops), "bytes": total, "goodput_bps": total * 8 / span if span > 0 else None,
            "sender_bytes": sum(s["loop"]["bytes"] for s in sent)}


def hold(rec: dict, raw: dict) -> None:
    """The cost of a connection: the sender's window over every set-up,
    the listener's accept rate draining a full queue, the client's connect
    rate, and the memory of the sockets a connection is made of, both ends
    and every subflow together (harness.measure.kmem)."""
    snd, rcv = raw["sender"], raw["receiver"]
    n, system = rcv["connections"], snd["system"]
    ends = {"client": snd["memory"], "server": rcv["memory"]}
    rec.update({
        "duration_s": snd["window_ns"] / 1e9, "bytes": 0,
        "cpu_sender_s": snd["cpu_s"], "cpu_receiver_s": rcv["cpu_s"],
        "cpu_system_s": system["busy_s"], "cpu_softirq_s": system["softirq_s"], "system": system,
        "retransmits": raw["mib"]["client"].get("TcpRetransSegs", 0),
        "connections": n,
        "accept_per_s": (rcv["accepted_after_first"] * 1e9 / rcv["accept_ns"]
                         if rcv["accepted_after_first"] and rcv["accept_ns"] > 0 else None),
        "connect_per_s": n * 1e9 / snd["connect_ns"] if snd["connect_ns"] > 0 else None,
        "conn_mem_bytes": sum(m["socket_bytes"] for m in ends.values()) / n,
        "conn_memory": {**{end: {k: m[k] for k in ("sockets", "socket_bytes")}
                           for end, m in ends.items()},
                        "slab_bytes": rcv["memory"]["slab_bytes"],
                        "top_caches": rcv["memory"]["top_caches"], "hold_s": rcv["hold_s"]},
    })


MEASURES = {"rr": rr, "crr": crr, "rr_under_load": rr_under_load, "hold": hold}


def support_matrix(trials: list[dict]) -> list[dict]:
    """One row per scenario x protocol x direction x mode: trials that
    worked, were unsupported (with the distinct reasons), and zero-copy
    completions (copied N of M).  For reports."""
    rows: dict[tuple, dict] = {}
    for t in trials:
        for direction, s in (t.get("mode_support") or {}).items():
            key = (t["scenario"], t["protocol"], direction, s["mode"])
            row = rows.setdefault(key, {"scenario": key[0], "protocol": key[1],
                                        "direction": direction, "mode": key[3], "works": 0,
                                        "unsupported": 0, "reasons": [],
                                        "zc_completions": 0, "zc_copied": 0})
            row[s["status"]] += 1
            if s.get("reason") and s["reason"] not in row["reasons"]:
                row["reasons"].append(s["reason"])
            row["zc_completions"] += s.get("zc_completions") or 0
            row["zc_copied"] += s.get("zc_copied") or 0
    return list(rows.values())
