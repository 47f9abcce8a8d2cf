"""Paths that differ: what a scenario with delayed or unequal links adds to
its report (docs/delay.md).

  aggregation  MPTCP's goodput against the best single path and the sum of
               the paths (each from the link model), and a transfer-time
               bound in the style of the kernel's simult_flows.sh selftest;
  reordering   the receiver's out-of-order and receive-buffer counters per
               trial, and per subflow where the kernel gives them;
  delay line   what the host delay line did: packets, drops, how far its
               verdicts strayed from their due times, its CPU.
"""
from __future__ import annotations

import statistics

from bench.catalog import Scenario
from bench.record import linkmodel
from bench.report import md
from harness.net import addressing

# simult_flows.sh: 10 % header overhead on the summed link rates, plus
# 400 ms for the MP_JOIN handshakes (its tool's sleeps and the joins).
HEADER_OVERHEAD = 0.9
JOIN_ALLOWANCE_S = 0.4
LATE_P99_US = 1000     # a queue whose releases strayed this far at p99 is counted
# Receiver-side counters (the server receives: traffic is client to server).
OFO_COUNTERS = (
    ("MPTcpExtOFOQueue", "MPTCP OFO queued"), ("MPTcpExtOFOQueueTail", "MPTCP OFO tail"),
    ("MPTcpExtOFOMerge", "MPTCP OFO merged"), ("TcpExtTCPOFOQueue", "TCP OFO queued"),
    ("TcpExtTCPOFODrop", "TCP OFO dropped"), ("TcpExtPruneCalled", "prune called"),
    ("TcpExtRcvPruned", "rcv pruned"), ("TcpExtTCPRcvCollapsed", "rcv collapsed"),
    ("TcpExtTCPRcvQDrop", "rcv queue drop"))


def applies(entry: dict) -> bool:
    """Delayed links, or several shaped links of different rates."""
    links = entry.get("definition", {}).get("links", [])
    rates = {(l.get("rate_mbit"), l.get("rate_up_mbit")) for l in links}
    return any(l.get("delay_ms") or l.get("jitter_ms") for l in links) or (
        len(links) > 1 and len(rates) > 1)


def section(doc: dict, name: str, driver: str) -> list[str]:
    entry = doc["scenarios"].get(name, {})
    if not applies(entry) or entry.get("state") == "skipped":
        return []
    trials = [t for t in doc["trials"] if t["scenario"] == name and t["driver"] == driver]
    scenario = Scenario.model_validate(entry["definition"])
    out = aggregation(scenario, trials) + reordering(scenario, trials) + delay_line(trials, entry)
    return ["", "#### Paths", ""] + out if out else []


def path_limits(scenario: Scenario, protocol: str) -> list[float]:
    """Each link's goodput limit (bit/s) for this protocol; None unshaped."""
    share = [linkmodel.payload_share(protocol, scenario.family, l.mtu) for l in scenario.links]
    return [None if l.spec().rate_up_mbit is None else l.spec().rate_up_mbit * 1e6 * s
            for l, s in zip(scenario.links, share)]


def time_bound_s(bytes_: int, rates_mbit: list[float]) -> float:
    """simult_flows.sh's bound for moving bytes_ over links of these rates."""
    return bytes_ * 8 / (sum(rates_mbit) * 1e6 * HEADER_OVERHEAD) + JOIN_ALLOWANCE_S


def _ok(trials: list[dict], protocol: str) -> list[dict]:
    return [t for t in trials if t["protocol"] == protocol and t["status"] == "ok"
            and t.get("goodput_bps")]


def aggregation(scenario: Scenario, trials: list[dict]) -> list[str]:
    """Against MPTCP's paths (every link unless protocol_links or the
    endpoints leave some out); the time bound over the protocol's own."""
    paths = linkmodel.links_carrying(scenario, "mptcp")
    rows = []
    for proto in ("tcp", "mptcp"):
        ok = _ok(trials, proto)
        limits = path_limits(scenario, proto)
        if not ok or None in limits:
            continue
        mine = [scenario.links[i].spec().rate_up_mbit
                for i in linkmodel.links_carrying(scenario, proto)]
        g = statistics.median(t["goodput_bps"] for t in ok)
        within = sum(t["duration_s"] <= time_bound_s(t["bytes"], mine) for t in ok)
        best, total = max(limits[i] for i in paths), sum(limits[i] for i in paths)
        rows.append(f"| {proto.upper()} | {g / 1e6:.1f} | {g / best:.0%} | "
                    f"{g / total:.0%} | {within}/{len(ok)} |")
    if not rows:
        return []
    limits = [path_limits(scenario, "mptcp")[i] for i in paths]
    return ["Aggregation (median goodput of the ok trials; limits from the link model; the "
            "bound is simult_flows.sh's: the bytes moved at the summed rates of the links the "
            "protocol uses, less 10 % for headers, plus 0.4 s for the joins):", "",
            "| protocol | goodput Mbit/s | of the best path | of the sum of paths | "
            "trials within the time bound |", "|---|---|---|---|---|", *rows, "",
            f"Best single path {max(limits) / 1e6:.1f} Mbit/s, sum of paths "
            f"{sum(limits) / 1e6:.1f} Mbit/s (MPTCP payload, over the "
            f"{len(paths)} link(s) MPTCP uses).", ""]


def _median(values: list) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):g}" if values else "–"


def reordering(scenario: Scenario, trials: list[dict]) -> list[str]:
    by_proto = {p: [t for t in trials if t["protocol"] == p and t.get("mib")] for p in ("tcp", "mptcp")}
    seen = [c for c, _ in OFO_COUNTERS
            if any(t["mib"].get("server", {}).get(c) for ts in by_proto.values() for t in ts)]
    out = []
    if seen:
        labels = dict(OFO_COUNTERS)
        out += ["Receiver's out-of-order and receive-buffer counters, median per trial "
                "(server namespace MIB deltas; counters that stayed 0 are left out):", "",
                "| protocol | " + " | ".join(f"{labels[c]} (`{c}`)" for c in seen) + " |",
                "|---|" + "---|" * len(seen)]
        for proto, ts in by_proto.items():
            if ts:
                out.append(f"| {proto.upper()} | " + " | ".join(
                    _median([t["mib"].get("server", {}).get(c, 0) for t in ts]) for c in seen) + " |")
        out.append("")
    return out + per_subflow(scenario, by_proto["mptcp"])


def per_subflow(scenario: Scenario, trials: list[dict]) -> list[str]:
    """Per link: the server's subflow from that link's client address —
    its share of the bytes received and its out-of-order packets."""
    hosts = {addressing.client_subnet(i, scenario.family).host: i for i in range(len(scenario.links))}
    rows: dict[int, dict[str, list]] = {}
    for t in trials:
        subs = t.get("subflow_detail_server") or []
        total = sum(s.get("bytes_received") or 0 for s in subs)
        for s in subs:
            link = hosts.get(addressing.host_of(s.get("remote") or ""))
            if link is None or not total:
                continue
            r = rows.setdefault(link, {"share": [], "ooo": [], "rtt": []})
            r["share"].append(round(100 * (s.get("bytes_received") or 0) / total, 1))
            r["ooo"].append(s.get("rcv_ooopack"))
            r["rtt"].append(s.get("rtt") / 1000 if s.get("rtt") is not None else None)
    if not rows:
        return []
    out = ["MPTCP per subflow, as the server saw it at the end (median over trials; "
           "`rcv_ooopack` from the subflow's tcp_info):", "",
           "| link | share of bytes % | out-of-order packets | smoothed RTT ms |", "|---|---|---|---|"]
    for link in sorted(rows):
        r = rows[link]
        out.append(f"| {link} | {_median(r['share'])} | {_median(r['ooo'])} | {_median(r['rtt'])} |")
    return out + [""]


def delay_line(trials: list[dict], entry: dict) -> list[str]:
    lines = [t["delay_line"] for t in trials if t.get("delay_line")]
    backend = entry.get("delay_backend")
    if not lines:
        return [f"Delay from {md.text(backend)}.", ""] if backend else []
    q = [row for line in lines for row in line["queues"] if row["packets"]]
    p99 = max((row["late_us_p99"] for row in q), default=None)
    p50 = _median([row["late_us_p50"] for row in q])
    worst = max((row["late_us_max"] for row in q), default=None)
    late = sum(1 for line in lines if (line["late_us_p99"] or 0) > LATE_P99_US)
    return [f"Delay from the host delay line: {sum(r['packets'] for r in q)} packets over "
            f"{len(lines)} trials, {sum(l['dropped'] for l in lines)} dropped by the kernel's "
            f"queue, {sum(l['overruns'] for l in lines)} notifications lost; release error "
            f"against the due time median {p50} µs, worst queue p99 {p99} µs, worst "
            f"{worst} µs; {late} of {len(lines)} trials had a queue whose p99 was above "
            f"{LATE_P99_US / 1000:g} ms; the line's CPU "
            f"{statistics.median(l['cpu_s'] for l in lines):.2f} s per trial (median, counted "
            "in the machine's busy time).", ""]
