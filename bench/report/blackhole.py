"""The answer of a scenario whose middlebox drops MPTCP's SYNs: how long
the client's connect() took per protocol, MPTCP's in trial order (the
kernel's blackhole detection makes the first connection pay and the
next ones not), and the client's MIB evidence summed over the trials."""
from __future__ import annotations

import statistics

EVIDENCE = ("MPTcpExtMPCapableSYNTXDrop", "MPTcpExtBlackhole", "MPTcpExtMPCapableSYNTXDisabled",
            "MPTcpExtMPJoinSynTx", "MPTcpExtMPJoinSynAckRx")


def _ms(v: float) -> str:
    return f"{v:.0f} ms" if v >= 10 else f"{v:.2f} ms"


def connects(doc: dict, scenario: str, driver) -> str | None:
    definition = (doc["scenarios"].get(scenario) or {}).get("definition") or {}
    if not (definition.get("middlebox") or {}).get("drop_syn"):
        return None
    mine = sorted((t for t in doc["trials"] if t["scenario"] == scenario and t.get("driver") == driver
                   and t.get("connect_ms") is not None), key=lambda t: t.get("seq") or 0)
    parts = []
    tcp = [t["connect_ms"] for t in mine if t["protocol"] == "tcp"]
    if tcp:
        parts.append(f"TCP median {_ms(statistics.median(tcp))}")
    mptcp = [t for t in mine if t["protocol"] == "mptcp"]
    if mptcp:
        statuses = statistics.multimode(t["status"] for t in mptcp)
        parts.append("MPTCP " + ", ".join(_ms(t["connect_ms"]) for t in mptcp)
                     + f" in trial order ({'/'.join(statuses)})")
        mib = {k: sum((t.get("mib") or {}).get("client", {}).get(k, 0) for t in mptcp) for k in EVIDENCE}
        seen = [f"{k.removeprefix('MPTcpExt')} {v}" for k, v in mib.items() if v]
        if seen:
            parts.append("client MIB over the MPTCP trials: " + ", ".join(seen))
    return ("connect() took " + "; ".join(parts)) if parts else None
