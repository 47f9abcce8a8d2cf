"""The report's first section for a run on real hosts (`run --hosts`): the
hosts, the NICs of the paths, the path survey made before the first
scenario, and what the zero-copy send modes really did on each sender
host's NIC.  Empty for any other run."""
from __future__ import annotations

from bench.catalog import Scenario
from bench.record import linkmodel
from bench.report import md

ZC_MODES = ("zerocopy", "io_uring_zc")


def section(doc: dict) -> list[str]:
    lane = (doc.get("metadata") or {}).get("lane") or {}
    if lane.get("kind") != "hosts":
        return []
    return (["## Hosts", "", _link_model(lane.get("link_model")), ""] + _hosts(lane) +
            _nics(lane) + _survey(lane.get("survey")) + zero_copy(doc, lane))


def _link_model(model: str | None) -> str:
    said = {"unknown": "the paths are measured as they are, nothing is shaped, and no goodput "
                       "limit is computed",
            None: "not recorded"}
    if model and model.startswith("surveyed"):
        return (f"Link model **{md.text(model)}**: nothing is shaped; each goodput limit in this "
                "report is what plain TCP carried on the path in the survey below (a capacity "
                "measured before the run, which the path may not keep).")
    return f"Link model **{md.text(model)}**: " + said.get(model, "set on the router host named.")


def _hosts(lane: dict) -> list[str]:
    out = ["| host | role | kernel | CPUs | clock offset from the controller |",
           "|---|---|---|---|---|"]
    for name, h in (lane.get("hosts") or {}).items():
        clock = h.get("clock") or {}
        offset = ("–" if clock.get("skew_s") is None else
                  f"{clock['skew_s'] * 1e3:+.1f} ms ± {clock.get('uncertainty_s', 0) * 1e3:.1f} ms")
        out.append(f"| {md.text(name)} | {md.text(h.get('role'))} | {md.text(h.get('kernel'))} "
                   f"({md.text(h.get('machine'))}) | {md.text(h.get('cpus'))} | {offset} |")
    return out + ["", "Clock offsets are recorded, never used: each figure comes from one host's "
                  "clock.", ""]


SHORT_OFFLOADS = {"tcp-segmentation-offload": "TSO", "generic-segmentation-offload": "GSO",
                  "generic-receive-offload": "GRO", "large-receive-offload": "LRO",
                  "tx-checksumming": "tx-csum", "rx-checksumming": "rx-csum"}


def _offloads(nic: dict) -> str:
    full = nic.get("offloads")
    if full is None:
        return "not read (no ethtool)"
    return ", ".join(f"{s} {full[k]}" for k, s in SHORT_OFFLOADS.items() if k in full) or "none listed"


def _nics(lane: dict) -> list[str]:
    qdiscs = {(e["host"], e["ifname"]): e.get("root_qdisc")
              for p in (lane.get("survey") or {}).get("paths", []) for e in p["ends"].values()}
    out = ["| host | interface | driver | MTU | offloads | root qdisc |", "|---|---|---|---|---|---|"]
    for name, h in (lane.get("hosts") or {}).items():
        for ifname, nic in (h.get("nics") or {}).items():
            out.append(f"| {md.text(name)} | {md.text(ifname)} | {md.text(nic_name(nic))} | "
                       f"{md.text(nic.get('mtu'))} | {md.text(_offloads(nic))} | "
                       f"{md.text(qdiscs.get((name, ifname)) or '–')} |")
    return out + [""]


def nic_name(nic: dict) -> str:
    """A NIC as a reader names it: its driver, or the kind of a virtual one."""
    return nic.get("driver") or (f"{nic['kind']} (virtual)" if nic.get("kind") else "unknown")


def _mbit(bps) -> str:
    return "–" if bps is None else f"{bps / 1e6:.1f} Mbit/s"


def _us(v) -> str:
    if v is None:
        return "–"
    return f"{v / 1e3:.1f} ms" if v >= 10_000 else f"{v:.0f} µs"


def _survey(survey: dict | None) -> list[str]:
    if not survey:
        return ["No path survey was recorded (a run from before the survey existed).", ""]
    p = survey["probe"]
    out = [f"Path survey, before the first scenario, per path: {p['bulk_s']:g} s of plain TCP "
           f"bulk and {p['rr_s']:g} s of 1-byte request/response ({md.text(p['driver'])} engine, "
           "from the path's client address to its server address).", "",
           "| path | client → server | MTU | TCP goodput | capacity on the wire | RTT p50 [p90] | "
           "smoothed RTT | RTT under load | retransmits |", "|---|---|---|---|---|---|---|---|---|"]
    failed = []
    for path in survey["paths"]:
        b, r = path["bulk"], path["rr"]
        c, s = path["ends"]["client"], path["ends"]["server"]
        cap = b.get("capacity_mbit")
        rtt = (f"{_us(r['p50_us'])} [{_us(r['p90_us'])}]" if r["status"] == "ok" else "failed")
        out.append(f"| {path['path']} | {md.text(path['client_address'])} ({md.text(c['ifname'])}) → "
                   f"{md.text(path['server_address'])} ({md.text(s['ifname'])}) | "
                   f"{md.text(path.get('mtu'))} | "
                   f"{_mbit(b.get('goodput_bps')) if b['status'] == 'ok' else 'failed'} | "
                   f"{'–' if cap is None else f'{cap:.1f} Mbit/s'} | {rtt} | {_us(r.get('srtt_us'))} | "
                   f"{_us(b.get('loaded_rtt_us'))} | {md.text(b.get('retransmits', '–'))} |")
        failed += [f"- path {path['path']}, {what} probe failed: {md.text(x['reason'])}"
                   for what, x in (("bulk", b), ("request/response", r)) if x["status"] != "ok"]
    return out + ([""] + failed if failed else []) + [""]


def zero_copy(doc: dict, lane: dict) -> list[str]:
    """Per sender host and NIC, mode and protocol: how many zero-copy sends'
    completions came back, and how many of them the kernel had copied."""
    rows: dict[tuple, dict] = {}
    for t in doc.get("trials", []):
        send = (t.get("mode_support") or {}).get("send") or {}
        if send.get("mode") not in ZC_MODES or t.get("status") in ("skipped", "interrupted"):
            continue
        key = (_sender_nics(doc, lane, t), send["mode"], t["protocol"])
        r = rows.setdefault(key, {"trials": 0, "counted": 0, "completions": 0, "copied": 0,
                                  "unsupported": 0})
        r["trials"] += 1
        if send.get("status") != "works":
            r["unsupported"] += 1
        elif send.get("zc_completions") is not None:
            r["counted"] += 1
            r["completions"] += send["zc_completions"]
            r["copied"] += send.get("zc_copied") or 0
    if not rows:
        return []
    out = ["Zero-copy sends, per sender host and NIC (the client interface of the path(s) the "
           "trial used): a completion the kernel marks *copied* was not zero-copy.", "",
           "| sender | mode | protocol | trials | completions | copied | really zero-copy |",
           "|---|---|---|---|---|---|---|"]
    for (sender, mode, proto), r in rows.items():
        counts = (f"{r['completions']} | {r['copied']}" if r["counted"] else "– | –")
        out.append(f"| {md.text(sender)} | {md.text(mode)} | {md.text(proto.upper())} | "
                   f"{r['trials']} | {counts} | {_verdict(r)} |")
    return out + [""]


def _verdict(r: dict) -> str:
    """The share of completions that were really zero-copy, in words too."""
    unsupported = (f"unsupported in {r['unsupported']} of {r['trials']} trial(s)"
                   if r["unsupported"] else "")
    if not r["completions"]:
        said = "no completion counted" if r["counted"] else ""
        return "; ".join(x for x in (said, unsupported) if x) or "no completion counted"
    real = r["completions"] - r["copied"]
    word = "all copied" if not real else "none copied" if not r["copied"] else "partly copied"
    return f"{real / r['completions']:.1%} ({word})" + (f"; {unsupported}" if unsupported else "")


def _sender_nics(doc: dict, lane: dict, t: dict) -> str:
    """The client host and its interfaces (drivers) on the trial's links."""
    hosts = lane.get("hosts") or {}
    client = next((n for n, h in hosts.items() if h.get("role") == "client"), "?")
    nics = (hosts.get(client) or {}).get("nics") or {}
    paths = lane.get("paths") or []
    try:
        scenario = Scenario.model_validate(doc["scenarios"][t["scenario"]]["definition"])
        links = linkmodel.links_carrying(scenario, t["protocol"])
    except (KeyError, ValueError):
        links = [0]
    names = []
    for i in links:
        ifname = _client_ifname(lane, i, paths)
        names.append(f"{ifname} ({nic_name(nics.get(ifname) or {})})")
    return f"{client}: " + ", ".join(names)


def _client_ifname(lane: dict, i: int, paths: list) -> str:
    """Path i's client interface: the survey's, else the inventory's."""
    for p in (lane.get("survey") or {}).get("paths", []):
        if p["path"] == i:
            return p["ends"]["client"]["ifname"]
    return (paths[i].get("client_interface") if i < len(paths) else None) or f"path {i}"
