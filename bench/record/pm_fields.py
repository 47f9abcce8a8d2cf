"""What the path manager did in an MPTCP trial, as columns: who managed the
client's paths, how long each connection took to add its further subflows
once it was established (the kernel's MPTCP events, harness.net.pmevents),
the joins that failed, and the userspace PM daemon's CPU seconds."""
from __future__ import annotations

import statistics

from harness.net import pmjoins

COLUMNS = ("path_manager", "join_ms", "join_ms_max", "joins", "joins_failed", "pm_daemon_cpu_s")


def fields(pm: dict | None, protocol: str) -> dict:
    out: dict = dict.fromkeys(COLUMNS)
    if not pm or protocol != "mptcp":
        return out
    out["path_manager"] = pm["path_manager"]
    out["pm_daemon_cpu_s"] = (pm.get("daemon") or {}).get("cpu_s")
    tl = pm.get("timeline")
    if not tl:
        return out
    firsts, every = [], []
    for conn in tl["connections"]:
        delays = [round(d, 1) for d in pmjoins.connection_join_delays(conn)]
        every += delays
        firsts += delays[:1]
    subflows = [s for c in tl["connections"] for s in c["subflows"]]
    out["joins"] = sum(1 for s in subflows if s["established_s"] is not None)
    out["joins_failed"] = sum(1 for s in subflows if s["established_s"] is None)
    out["join_ms"] = statistics.median(firsts) if firsts else None
    out["join_ms_max"] = max(every) if every else None
    return out
