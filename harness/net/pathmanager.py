"""MPTCP in-kernel path manager: limits and endpoints over generic netlink
(pyroute2), set and read back inside a namespace."""
from __future__ import annotations

import logging
import struct

from pyroute2.netlink.exceptions import NetlinkError

from harness import limits
from harness.errors import TopologyError
from harness.host import netns

log = logging.getLogger(__name__)

FLAGS, MAX_LIMIT = limits.PM_FLAGS, limits.PM_MAX_LIMIT


def flags_value(names: tuple[str, ...]) -> int:
    value = 0
    for name in names:
        if name not in FLAGS:
            raise ValueError(f"unknown endpoint flag {name!r}; use one of {', '.join(FLAGS)}")
        value |= FLAGS[name]
    return value


def flags_names(value: int) -> list[str]:
    return [name for name, bit in FLAGS.items() if value & bit]


def _ifindex(raw) -> int:
    """IF_IDX as pyroute2 gives it back: an opaque attribute ("02:00:00:00")."""
    if isinstance(raw, str):
        raw = bytes.fromhex(raw.replace(":", ""))
    return struct.unpack("=i", raw[:4])[0] if isinstance(raw, bytes) and len(raw) >= 4 else (raw or 0)


def limits_of(pm) -> dict:
    limits = {}
    for msg in pm.limits("show"):
        limits = {"subflows": msg.get_attr("MPTCP_PM_ATTR_SUBFLOWS"),
                  "add_addr_accepted": msg.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS")}
    return limits


def endpoints_of(pm) -> list[dict]:
    """Every endpoint as the kernel reports it, by id."""
    out = []
    for msg in pm.endpoint("show"):
        a = msg.get_attr("MPTCP_PM_ATTR_ADDR")
        out.append({"id": a.get_attr("MPTCP_PM_ADDR_ATTR_ID"),
                    "address": a.get_attr("MPTCP_PM_ADDR_ATTR_ADDR4") or a.get_attr("MPTCP_PM_ADDR_ATTR_ADDR6"),
                    "port": a.get_attr("MPTCP_PM_ADDR_ATTR_PORT") or 0,
                    "ifindex": _ifindex(a.get_attr("MPTCP_PM_ADDR_ATTR_IF_IDX")),
                    "flags": flags_names(a.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") or 0)})
    return sorted(out, key=lambda e: e["id"] or 0)


def add_endpoint(pm, address: str, names, ifindex: int = 0, id: int = 0, port: int = 0) -> None:
    attrs = {"addr6" if ":" in address else "addr4": address, "flags": flags_value(tuple(names))}
    if ifindex:     # pyroute2 declares IF_IDX as an opaque attribute: pass the s32 packed
        attrs["if_idx"] = struct.pack("=i", ifindex)
    if id:
        attrs["id"] = id
    if port:
        attrs["port"] = port
    pm.endpoint("add", **attrs)


def configure(ns: str, subflows: int, add_addr_accepted: int,
              endpoints: list[tuple[str, int, tuple[str, ...]]]) -> None:
    """Set limits and add endpoints (address, ifindex, flag names)."""
    try:
        with netns.mptcp_pm(ns) as pm:
            pm.limits("set", subflows=subflows, add_addr_accepted=add_addr_accepted)
            for address, ifindex, names in endpoints:
                add_endpoint(pm, address, names, ifindex)
        log.info("MPTCP path manager in %s: limits subflow %d add_addr_accepted %d; "
                 "endpoints %s", ns, subflows, add_addr_accepted,
                 ", ".join(f"{a} {'/'.join(n)}" for a, _, n in endpoints) or "none")
    except NetlinkError as exc:
        raise TopologyError(f"the MPTCP path manager in {ns} refused the configuration "
                            f"({exc}); check the scenario's endpoints and limits") from None


def replace_address(ns: str, old: str, new: str, ifindex: int, names: tuple[str, ...]) -> None:
    """The endpoint on `old` (if any) removed, one on `new` with flags `names`
    added: the in-kernel PM closes the subflows on `old` and opens new ones
    from `new` on every connection, as when an address daemon tells it."""
    with netns.mptcp_pm(ns) as pm:
        for ep in endpoints_of(pm):
            if ep["address"] == old:
                pm.endpoint("del", id=ep["id"], **{"addr6" if ":" in old else "addr4": old})
        add_endpoint(pm, new, names, ifindex)


def reset(ns: str, subflows: int, add_addr_accepted: int,
          endpoints: list[tuple[str, int, tuple[str, ...]]]) -> None:
    """Every endpoint removed, then configure() again."""
    with netns.mptcp_pm(ns) as pm:
        pm.endpoint("flush")
    configure(ns, subflows, add_addr_accepted, endpoints)


def read_back(ns: str) -> dict:
    """Limits and endpoints (id, address, flags) as the kernel reports them."""
    with netns.mptcp_pm(ns) as pm:
        return {"limits": limits_of(pm),
                "endpoints": [{k: e[k] for k in ("id", "address", "flags")} for e in endpoints_of(pm)]}
