"""The MPTCP path manager of the host it runs on, for a controller that
reaches it over SSH (bench.hosts): show, apply a scenario's endpoints and
limits, and restore exactly what was there.

    python -m harness.hostctl version
    python -m harness.hostctl pm-show
    python -m harness.hostctl pm-apply STATE_FILE '{"limits": {...}, "endpoints": [...]}'
    python -m harness.hostctl pm-restore STATE_FILE

pm-apply first saves the current configuration to STATE_FILE; pm-restore
puts it back and removes the file.  A STATE_FILE left by a controller that
died is restored before anything new is applied, so a later run (or
`bench clean --hosts`) undoes what a killed one changed.  Output: one JSON
document on stdout.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys

from harness import pathmanager


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
    os.makedirs(os.path.dirname(state_file) or ".", exist_ok=True)
    tmp = f"{state_file}.tmp"
    with open(tmp, "w") as f:
        json.dump(saved, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_file)
    _set(config)
    return {"saved": saved, "applied": show(), "restored_leftover": left}


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
    else:
        sys.stderr.write("usage: python -m harness.hostctl version | pm-show | pm-apply STATE_FILE JSON | "
                         "pm-restore STATE_FILE\n")
        return 2
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
