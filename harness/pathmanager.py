"""MPTCP in-kernel path manager: limits and endpoints over generic netlink
(pyroute2), set and read back inside a namespace."""
from __future__ import annotations

import logging
import struct

from pyroute2.netlink.exceptions import NetlinkError

from harness import netns
from harness.errors import TopologyError

log = logging.getLogger(__name__)

# MPTCP_PM_ADDR_FLAG_* from include/uapi/linux/mptcp.h
FLAGS = {"signal": 1, "subflow": 2, "backup": 4, "fullmesh": 8, "implicit": 16, "laminar": 32}
MAX_LIMIT = 8  # MPTCP_PM_ADDR_MAX: the kernel refuses larger limits


def flags_value(names: tuple[str, ...]) -> int:
    value = 0
    for name in names:
        if name not in FLAGS:
            raise ValueError(f"unknown endpoint flag {name!r}; use one of {', '.join(FLAGS)}")
        value |= FLAGS[name]
    return value


def flags_names(value: int) -> list[str]:
    return [name for name, bit in FLAGS.items() if value & bit]


def configure(ns: str, subflows: int, add_addr_accepted: int,
              endpoints: list[tuple[str, int, tuple[str, ...]]]) -> None:
    """Set limits and add endpoints (address, ifindex, flag names)."""
    try:
        with netns.mptcp_pm(ns) as pm:
            pm.limits("set", subflows=subflows, add_addr_accepted=add_addr_accepted)
            for address, ifindex, names in endpoints:
                key = "addr6" if ":" in address else "addr4"
                # pyroute2 declares IF_IDX as an opaque attribute: pass the s32 packed.
                pm.endpoint("add", **{key: address}, if_idx=struct.pack("=i", ifindex),
                            flags=flags_value(names))
        log.info("MPTCP path manager in %s: limits subflow %d add_addr_accepted %d; "
                 "endpoints %s", ns, subflows, add_addr_accepted,
                 ", ".join(f"{a} {'/'.join(n)}" for a, _, n in endpoints) or "none")
    except NetlinkError as exc:
        raise TopologyError(f"the MPTCP path manager in {ns} refused the configuration "
                            f"({exc}); check the scenario's endpoints and limits") from None


def read_back(ns: str) -> dict:
    """Limits and endpoints as the kernel reports them."""
    with netns.mptcp_pm(ns) as pm:
        limits = {}
        for msg in pm.limits("show"):
            limits["subflows"] = msg.get_attr("MPTCP_PM_ATTR_SUBFLOWS")
            limits["add_addr_accepted"] = msg.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS")
        endpoints = []
        for msg in pm.endpoint("show"):
            addr = msg.get_attr("MPTCP_PM_ATTR_ADDR")
            endpoints.append({
                "id": addr.get_attr("MPTCP_PM_ADDR_ATTR_ID"),
                "address": addr.get_attr("MPTCP_PM_ADDR_ATTR_ADDR4")
                or addr.get_attr("MPTCP_PM_ADDR_ATTR_ADDR6"),
                "flags": flags_names(addr.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") or 0),
            })
    return {"limits": limits, "endpoints": endpoints}
