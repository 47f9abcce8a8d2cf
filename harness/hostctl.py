"""The MPTCP path manager of the host it runs on, for a controller that
reaches it over SSH (bench.hosts): show, apply a scenario's endpoints and
limits, and restore exactly what was there.

    python -m harness.hostctl version
    python -m harness.hostctl pm-show
    python -m harness.hostctl pm-apply STATE_FILE '{"limits": {...}, "endpoints": [...]}'
    python -m harness.hostctl pm-restore STATE_FILE
    python -m harness.hostctl links-apply STATE_FILE '{"egress": [...]}'   (a router)
    python -m harness.hostctl links-restore STATE_FILE

pm-apply first saves the current configuration to STATE_FILE; pm-restore
puts it back and removes the file.  A STATE_FILE left by a controller that
died is restored before anything new is applied, so a later run (or
`bench clean --hosts`) undoes what a killed one changed.  links-apply and
links-restore do the same for a configurable router's link shaping (tbf,
netem, an nftables loss table: harness.shaping).  Output: one JSON
document on stdout.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys

from harness import pathmanager, shaping

TC_H_ROOT = 0xFFFFFFFF


def _mptcp_pm():
    from pyroute2.netlink.generic.mptcp import MPTCP
    return MPTCP()


def _ifindex(raw) -> int | None:
    """IF_IDX as pyroute2 gives it back: an opaque attribute ("02:00:00:00")."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = bytes.fromhex(raw.replace(":", ""))
    return struct.unpack("=i", raw[:4])[0] if isinstance(raw, bytes) and len(raw) >= 4 else raw


def show() -> dict:
    with _mptcp_pm() as pm:
        limits = {}
        for msg in pm.limits("show"):
            limits = {"subflows": msg.get_attr("MPTCP_PM_ATTR_SUBFLOWS"),
                      "add_addr_accepted": msg.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS")}
        endpoints = []
        for msg in pm.endpoint("show"):
            a = msg.get_attr("MPTCP_PM_ATTR_ADDR")
            endpoints.append({
                "id": a.get_attr("MPTCP_PM_ADDR_ATTR_ID"),
                "address": a.get_attr("MPTCP_PM_ADDR_ATTR_ADDR4") or a.get_attr("MPTCP_PM_ADDR_ATTR_ADDR6"),
                "port": a.get_attr("MPTCP_PM_ADDR_ATTR_PORT") or 0,
                "ifindex": _ifindex(a.get_attr("MPTCP_PM_ADDR_ATTR_IF_IDX")) or 0,
                "flags": pathmanager.flags_names(a.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") or 0)})
    return {"limits": limits, "endpoints": sorted(endpoints, key=lambda e: e["id"] or 0)}


def _set(config: dict) -> None:
    """Replace the endpoints and limits with `config` (endpoints with an id,
    port and ifindex are put back as they were)."""
    with _mptcp_pm() as pm:
        pm.endpoint("flush")
        limits = config["limits"]
        pm.limits("set", subflows=limits["subflows"], add_addr_accepted=limits["add_addr_accepted"])
        for ep in config["endpoints"]:
            attrs = {"addr6" if ":" in ep["address"] else "addr4": ep["address"],
                     "flags": pathmanager.flags_value(tuple(ep["flags"]))}
            ifindex = ep.get("ifindex") or (socket.if_nametoindex(ep["ifname"])
                                            if ep.get("ifname") else 0)
            if ifindex:
                attrs["if_idx"] = struct.pack("=i", ifindex)
            if ep.get("id"):
                attrs["id"] = ep["id"]
            if ep.get("port"):
                attrs["port"] = ep["port"]
            pm.endpoint("add", **attrs)


def restore(state_file: str) -> dict | None:
    try:
        with open(state_file) as f:
            saved = json.load(f)
    except FileNotFoundError:
        return None
    _set(saved)
    os.unlink(state_file)
    return saved


def apply(state_file: str, config: dict) -> dict:
    left = restore(state_file)
    saved = show()
    _save(state_file, saved)
    _set(config)
    return {"saved": saved, "applied": show(), "restored_leftover": left}


def _ipr():
    from pyroute2 import IPRoute
    return IPRoute()


def _root_qdisc(ipr, index: int) -> dict | None:
    for msg in ipr.get_qdiscs(index=index):
        if msg["parent"] == TC_H_ROOT:
            return {"kind": msg.get_attr("TCA_KIND"), "handle": msg["handle"]}
    return None


def qdiscs() -> dict:
    """Every interface's qdiscs as the kernel reports them."""
    with _ipr() as ipr:
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        out: dict = {}
        for msg in ipr.get_qdiscs():
            out.setdefault(names.get(msg["index"], str(msg["index"])), []).append(
                shaping.describe_qdisc(msg))
    return out


def links_restore(state_file: str) -> dict | None:
    """Remove the qdiscs and loss rules links-apply put on this router."""
    try:
        with open(state_file) as f:
            saved = json.load(f)
    except FileNotFoundError:
        return None
    with _ipr() as ipr:
        for ifname in saved["interfaces"]:
            try:      # the kernel puts its default root qdisc back
                ipr.tc("del", index=socket.if_nametoindex(ifname), root=True)
            except Exception:      # already gone (not shaped, or the interface went)
                pass
    if saved["nft"]:
        subprocess.run(["nft", "delete", "table", "inet", shaping.NFT_TABLE], capture_output=True)
    os.unlink(state_file)
    return saved


def links_apply(state_file: str, config: dict) -> dict:
    """Shape this router's egress interfaces as `config` says: {"egress":
    [{"ifname", "rate_mbit", "loss_pct", "delay_ms", "jitter_ms", "queue_ms"}]}.
    An interface with a qdisc someone configured (a non-zero root handle) is
    refused: it could not be put back exactly."""
    left = links_restore(state_file)
    egress = config["egress"]
    with _ipr() as ipr:
        for e in egress:
            root = _root_qdisc(ipr, socket.if_nametoindex(e["ifname"]))
            if root and root["handle"]:
                raise SystemExit(f"interface {e['ifname']} has a configured root qdisc "
                                 f"({root['kind']}); remove it or do not mark this host configurable")
    drops = [(e["ingress"], e["loss_pct"]) for e in egress if e["loss_pct"] > 0]
    _save(state_file, {"interfaces": [e["ifname"] for e in egress], "nft": bool(drops)})
    with _ipr() as ipr:
        for e in egress:
            d = shaping.Direction(e["rate_mbit"], e["loss_pct"], e["delay_ms"], e["jitter_ms"],
                                  e["queue_ms"])
            # A router host delays with netem: the delay line runs on local topologies only.
            shaping.install_qdiscs(ipr, socket.if_nametoindex(e["ifname"]), d, netem=True)
    if drops:
        subprocess.run(["nft", "-f", "-"], input=shaping.loss_ruleset(drops), text=True, check=True)
    return {"applied": egress, "restored_leftover": left}


def _save(state_file: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(state_file) or ".", exist_ok=True)
    tmp = f"{state_file}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_file)


def version() -> dict:
    """This install's version; importing the engine proves it loads here."""
    from importlib.metadata import version

    from harness import _engine  # noqa: F401
    return {"version": version("mptcp-bench"), "engine": True}


def main(argv: list[str]) -> int:
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if cmd == "version" and not args:
        out = version()
    elif cmd == "pm-show" and not args:
        out = show()
    elif cmd == "pm-apply" and len(args) == 2:
        out = apply(args[0], json.loads(args[1]))
    elif cmd == "pm-restore" and len(args) == 1:
        out = {"restored": restore(args[0])}
    elif cmd == "qdiscs" and not args:
        out = qdiscs()
    elif cmd == "links-apply" and len(args) == 2:
        out = links_apply(args[0], json.loads(args[1]))
    elif cmd == "links-restore" and len(args) == 1:
        out = {"restored": links_restore(args[0])}
    else:
        sys.stderr.write("usage: python -m harness.hostctl version | pm-show | qdiscs | pm-apply STATE_FILE JSON | "
                         "pm-restore STATE_FILE | links-apply STATE_FILE JSON | "
                         "links-restore STATE_FILE\n")
        return 2
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
