"""The path managers side by side, for a run that ran more than one: per
scenario and path manager, how long connections took to add their
subflows, the joins that failed, what the userspace PM's daemon cost, and
the delivery gap after a failed path (TCP's beside them)."""
from __future__ import annotations

import statistics

from bench.report import md
from harness.net import pmjoins

WHO = {"kernel": "in-kernel", "userspace": "userspace (mptcpd)"}


def _counted(trials: list[dict], driver) -> list[dict]:
    """Trials that measured something: a disturbed one is re-run, and its
    retry counts instead."""
    return [t for t in trials if t.get("driver") == driver
            and t["status"] not in ("disturbed", "skipped", "interrupted")]


def managers(doc: dict, driver) -> set[str]:
    return {t["path_manager"] for t in _counted(doc["trials"], driver) if t.get("path_manager")}


def _spread(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    mid = format(statistics.median(values), fmt)
    return mid if len(values) == 1 else f"{mid} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def _row(scenario: str, who: str, rows: list[dict]) -> str:
    joins = [t["join_ms"] for t in rows if t.get("join_ms") is not None]
    slowest = [t["join_ms_max"] for t in rows if t.get("join_ms_max") is not None]
    failed = sum(t.get("joins_failed") or 0 for t in rows)
    made = sum(t.get("joins") or 0 for t in rows)
    daemon = [t["pm_daemon_cpu_s"] for t in rows if t.get("pm_daemon_cpu_s") is not None]
    gaps = [t["failover_gap_ms"] for t in rows if t.get("failover_gap_ms") is not None]
    churn = [t for t in rows if t.get("workload") == "crr"]
    per_conn = [t["cpu_own_us_per_transaction"] for t in churn
                if t.get("cpu_own_us_per_transaction") is not None]
    rate = [t["transactions_per_s"] / 1000 for t in churn if t.get("transactions_per_s")]
    syns = [s for t in rows if (s := _join_syns_per_connection(t)) is not None]
    ok = sum(t["status"] == "ok" for t in rows)
    return (f"| {md.text(scenario)} | {who} | {ok} of {len(rows)} | {_spread(joins, '.1f')} | "
            f"{_spread(slowest, '.1f')} | {failed} of {failed + made} | {_spread(syns, '.2f')} | "
            f"{_spread(daemon, '.2f')} | {_spread(rate, '.1f')} | {_spread(per_conn, '.0f')} | "
            f"{_spread(gaps, '.0f')} |")


def _join_syns_per_connection(t: dict) -> float | None:
    """MP_JOIN SYNs the client sent per connection of the trial (MIB)."""
    if t["protocol"] != "mptcp":
        return None
    sent = ((t.get("mib") or {}).get("client") or {}).get("MPTcpExtMPJoinSynTx")
    conns = t.get("transactions") if t.get("workload") == "crr" else t.get("flows")
    return sent / conns if sent is not None and conns else None


def section(rep, driver) -> list[str]:
    doc = rep.doc
    if len(managers(doc, driver)) < 2:
        return []
    out = ["", "## Path managers", "",
           "Per scenario and path manager (TCP beside them where the scenario ran it): the "
           "time from a connection's `established` event to its first further subflow's "
           "(median over the trial's connections, then median and range over trials), the "
           "slowest join of a trial, the joins that closed before they were established, the "
           "MP_JOIN SYNs the client sent per connection (MIB), the userspace PM daemon's CPU "
           "per trial (also in the trial's own CPU), under churn (crr) the connections per "
           "second and own CPU per connection, and the longest stretch without delivery after "
           "a path failed. Events as the kernel's MPTCP netlink events reported them, timed as "
           "received (docs/path-managers.md in the source).", "",
           "| scenario | path manager | ok | join (ms) | slowest join (ms) | joins failed | "
           "join SYNs per connection | daemon CPU (s) | crr: connections/s (k) | "
           "crr: own CPU per connection (µs) | gap after failure (ms) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    trials = _counted(doc["trials"], driver)
    delays: dict[str, list[float]] = {}
    for name in doc["scenarios"]:
        mine = [t for t in trials if t["scenario"] == name]
        for pm in sorted({t.get("path_manager") for t in mine if t.get("path_manager")}):
            rows = [t for t in mine if t.get("path_manager") == pm]
            out.append(_row(name, WHO.get(pm, pm), rows))
            found = [d for t in rows for d in join_delays(t.get("pm_timeline"))]
            if found:
                delays[f"{name} ({pm})"] = found
        tcp = [t for t in mine if t["protocol"] == "tcp"]
        if tcp and any(t.get("failover_gap_ms") is not None for t in tcp):
            out.append(_row(name, "TCP", tcp))
    from bench.report import plots
    return out + rep.figure("pm-joins", "every join's delay after its connection was established",
                            plots.join_delays(delays))


def join_delays(tl: dict | None) -> list[float]:
    """Every further subflow's time after its connection's establishment, ms."""
    if not tl:
        return []
    return [d for c in tl["connections"] for d in pmjoins.connection_join_delays(c)]
