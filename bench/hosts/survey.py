"""The path survey of a hosts run: before the first scenario, per inventory
path, what the path carries and how long a round trip takes, measured with
the project's own worker (harness.traffic.worker, the native driver) on the
hosts' own configuration, plus each end's interface (driver, MTU, offloads,
root qdisc) and the hosts' clock offsets.  Nothing is changed on a host.

    bulk  BULK_S of plain TCP from the path's client address to its server
          address: goodput (receiver's first to last byte), and the
          capacity it implies on the wire at the path's MTU;
    rr    RR_S of 1-byte request/response on one TCP connection: the
          round trip's p50 and p90 as the client timed them, and the
          kernel's smoothed RTT of that connection.

A probe that fails is recorded with its reason.  On an unshaped path the
survey is the link model of the run's goodput limits (docs/hosts.md).
"""
from __future__ import annotations

import logging

from bench.hosts import preflight
from bench.record import linkmodel
from harness.errors import HarnessError
from harness.traffic import drivers
from harness.traffic.drivers import TrialParams

log = logging.getLogger(__name__)

BULK_S = 2.0
RR_S = 1.0
# The offloads that change what a transfer costs (ethtool -k names).
KEY_OFFLOADS = ("tcp-segmentation-offload", "generic-segmentation-offload",
                "generic-receive-offload", "large-receive-offload", "tx-checksumming",
                "rx-checksumming")
TC_H_ROOT = 0xFFFFFFFF


def run(lane, site) -> dict:
    """The survey of every path of the lane's inventory (preflight and
    install done), its probes run on `site` (the hosts' topology, not
    entered: their own endpoints, nothing changed): metadata.lane.survey."""
    qdiscs = {role: _qdiscs(lane, role) for role in ("client", "server")}
    paths = []
    for i, p in enumerate(lane.inv.paths):
        log.info("surveying path %d: %s -> %s", i, p.client_address, p.server_address)
        ends = {role: end(lane, role, lane.ifnames[i][role], qdiscs[role])
                for role in ("client", "server")}
        mtu = min((e["mtu"] for e in ends.values() if e.get("mtu")), default=None)
        paths.append({"path": i, "client_address": p.client_address,
                      "server_address": p.server_address, "mtu": mtu, "ends": ends,
                      "bulk": bulk(_probe(site, i, lane.inv.family, "bulk"), lane.inv.family, mtu),
                      "rr": rr(_probe(site, i, lane.inv.family, "rr"))})
    return {"probe": {"driver": "native", "protocol": "tcp", "bulk_s": BULK_S, "rr_s": RR_S},
            "paths": paths,
            "clocks": {lane.inv.host(role).name: f["clock"] for role, f in lane.facts.items()}}


def planned(inv) -> list[str]:
    """What the survey would send, for --dry-run (which sends nothing)."""
    return [f"path {i}: {BULK_S:g} s of TCP bulk and {RR_S:g} s of request/response from "
            f"{p.client_address} to {p.server_address}" for i, p in enumerate(inv.paths)]


def _probe(site, link: int, family: int, workload: str) -> dict:
    """The native driver's raw result of one probe: a worker that failed is
    its "error"; a host that cannot be reached ends the run (HostError),
    as it would at the first scenario."""
    params = TrialParams(protocol="tcp", family=family, link=link, workload=workload,
                         duration_s=BULK_S if workload == "bulk" else RR_S)
    return drivers.get("native").run(site, params)


def _failed(raw: dict) -> dict | None:
    err = raw.get("error")
    if not err:
        return None
    return {"status": "failed", "reason": err.get("message") or "no reason given"}


def bulk(raw: dict, family: int, mtu: int | None) -> dict:
    """Goodput of the bulk probe and the wire rate it implies (what a tbf
    rate would be for this goodput: harness' link model, inverted)."""
    failed = _failed(raw)
    if failed:
        return failed
    loop = raw["receiver"]["loop"]
    span_s = (loop["last_ns"] - loop["first_ns"]) / 1e9
    if span_s <= 0 or not loop["bytes"]:
        return {"status": "failed", "reason": f"the probe moved {loop['bytes']} bytes"}
    goodput = loop["bytes"] * 8 / span_s
    info = (raw["sender"].get("info") or {}).get("tcp_info") or {}
    return {"status": "ok", "reason": None, "bytes": loop["bytes"], "duration_s": span_s,
            "goodput_bps": goodput,
            "capacity_mbit": goodput / linkmodel.payload_share("tcp", family, mtu or 1500) / 1e6,
            "loaded_rtt_us": info.get("rtt"), "retransmits": info.get("total_retrans")}


def rr(raw: dict) -> dict:
    """Round trips of the request/response probe, as the client timed them."""
    failed = _failed(raw)
    if failed:
        return failed
    lat = raw["sender"]["loop"].get("latency") or {}
    if not lat.get("transactions"):
        return {"status": "failed", "reason": "no transaction completed"}
    info = (raw["sender"].get("info") or {}).get("tcp_info") or {}
    return {"status": "ok", "reason": None, "transactions": lat["transactions"],
            "p50_us": lat["p50_us"], "p90_us": lat["p90_us"], "p99_us": lat["p99_us"],
            "srtt_us": info.get("rtt"), "rttvar_us": info.get("rttvar")}


def end(lane, role: str, ifname: str, qdiscs: dict) -> dict:
    """One end of a path: its host and interface as the host's tools tell."""
    nic = preflight.nic(lane.conns[role], lane.facts[role], ifname)
    offloads = nic.get("offloads") or {}
    return {"host": lane.inv.host(role).name, "ifname": ifname, "driver": nic["driver"],
            "kind": nic["kind"], "mtu": nic["mtu"],
            "offloads": {k: offloads[k] for k in KEY_OFFLOADS if k in offloads},
            "root_qdisc": root_qdisc(qdiscs.get(ifname) or [])}


def _qdiscs(lane, role: str) -> dict:
    try:
        return lane.hostctl(role, "qdiscs")
    except (HarnessError, ValueError) as exc:
        log.warning("reading the qdiscs of host %s: %s", lane.inv.host(role).name, exc)
        return {}


def root_qdisc(qdiscs: list[dict]) -> str | None:
    """The kind of an interface's root qdisc (hostctl qdiscs' view of it)."""
    return next((q["kind"] for q in qdiscs if q.get("parent") == TC_H_ROOT), None)


def link_model(survey: dict | None) -> str:
    """metadata.lane.link_model of an unshaped hosts run."""
    ok = [p["path"] for p in (survey or {}).get("paths", []) if p["bulk"]["status"] == "ok"]
    if not ok:
        return "unknown"
    missed = [p["path"] for p in survey["paths"] if p["path"] not in ok]
    return "surveyed" + (f" except path {', '.join(map(str, missed))}" if missed else "")


def capacities(survey: dict, nominal_mtu: list[int], family: int) -> list[float | None]:
    """Per path, the rate at the scenario link's (nominal, unapplied) MTU at
    which harness' link model gives exactly the goodput TCP had in the
    survey: the TCP limit is then the surveyed goodput, MPTCP's that less
    its DSS option, whatever MTU the real path has."""
    out = []
    for p, mtu in zip(survey["paths"], nominal_mtu):
        gp = p["bulk"].get("goodput_bps") if p["bulk"]["status"] == "ok" else None
        out.append(gp / linkmodel.payload_share("tcp", family, mtu) / 1e6 if gp else None)
    return out


def summary(survey: dict) -> list[str]:
    """One console line per surveyed path."""
    out = []
    for p in survey["paths"]:
        b, r = p["bulk"], p["rr"]
        what = [f"TCP {b['goodput_bps'] / 1e6:.1f} Mbit/s" if b["status"] == "ok"
                else f"bulk probe failed: {b['reason']}",
                f"round trip p50 {r['p50_us'] / 1e3:.3f} ms" if r["status"] == "ok"
                else f"round-trip probe failed: {r['reason']}"]
        out.append(f"path {p['path']} ({p['client_address']} -> {p['server_address']}): "
                   + ", ".join(what))
    return out
