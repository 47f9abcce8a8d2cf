"""When a path that went down and came back carries data again.

Per link, the bytes acknowledged in each interval: an MPTCP sender's
subflows grouped by the link their local address is on (the per-subflow
grid of bench.record.subflow_grid); a single-path connection's whole
series on the link of its sender's address (a TCP connection takes the
client's main route, link 0).  After an "up" event that ends a "down" of
the same link (or a "readdress", which is both at once), `first_data_s` is the time from the event to the start of
the first stretch of SUSTAINED_S in which that link carried data in every
interval: a lone probe that got through does not count (2026-12-06: a
restored subflow carried 11 kB, then nothing for 2 s).  A lower bound, one
interval its resolution; None when the link carried nothing sustained
until the series ended, `watched_s` saying how long that was.  Pure, so it
is tested on recorded series.
"""
from __future__ import annotations

from harness.net import addressing

SUSTAINED_S = 0.1
READDRESS = ("readdress", "readdress_pm")     # the client's address on the link changed


def link_series(rec: dict, peer: str | None, gone: frozenset = frozenset()) -> dict[int, list[int]]:
    """{link: bytes per interval} for the trial's sender, the data of the
    subflows (or the connection) from the addresses in `gone` left out: their
    link stays, carrying nothing of theirs."""
    keys, grid = rec.get("subflow_intervals_keys"), rec.get("subflow_intervals_bytes")
    if keys and grid:
        out: dict[int, list[int]] = {}
        for key, row in zip(keys, grid):
            local = key.split(" → ")[0]
            link = addressing.link_of(local)
            if link is not None:
                acc = out.setdefault(link, [0] * len(row))
                if addressing.host_of(local) not in gone:
                    out[link] = [a + b for a, b in zip(acc, row)]
        return out
    link = addressing.link_of(peer) if peer else None
    if link is None:
        return {}
    series = list(rec.get("intervals_bytes") or [])
    return {link: [0] * len(series) if addressing.host_of(peer) in gone else series}


def restores(events: list[dict], series: dict[int, list[int]], interval_s: float) -> list[dict]:
    """One entry per link restored inside the series: the outage's length,
    and when the link carried data again.  A link the sender never had a
    path on says nothing, and gets no entry."""
    out, down_at = [], {}
    timed = [ev for ev in events if ev.get("at_s_from_first_byte") is not None and not ev.get("error")]
    for ev in sorted(timed, key=lambda e: e["at_s_from_first_byte"]):
        t, link = ev["at_s_from_first_byte"], ev["link"]
        if ev["action"] in READDRESS:         # a path lost and another given at once
            down_at.setdefault(link, t)
        if ev["action"] == "down":
            down_at.setdefault(link, t)
        elif ev["action"] in ("up", *READDRESS) and link in down_at and link in series:
            row = series[link][:-1]                  # the last interval is partial
            first = max(0, int(t / interval_s))
            if first >= len(row):
                continue                             # the series ended before the restore
            need = max(1, round(SUSTAINED_S / interval_s))
            hit = next((i for i in range(first, len(row) - need + 1)
                        if all(v > 0 for v in row[i:i + need])), None)
            out.append({"link": link, "after": ev["action"], "down_s": t - down_at.pop(link),
                        "first_data_s": None if hit is None else max(0.0, hit * interval_s - t),
                        "watched_s": len(row) * interval_s - t})
    return out


def fields(rec: dict, peer: str | None) -> dict:
    """The record's restore columns: the first restore of the trial.  After
    an address change, data on the old address is the tail of what was in
    flight (6.1 in the VM lane: 0.9 MB acked over 0.5 s), not the path used
    again: only subflows from other addresses count."""
    events = rec.get("events") or []
    gone = frozenset(addressing.client_subnet(ev["link"], fam).host for ev in events
                     if ev["action"] in READDRESS for fam in addressing.FAMILIES)
    found = restores(events, link_series(rec, peer, gone), rec["interval_s"])
    if not found:
        return {}
    first = found[0]
    return {"restores": found, "restore_first_data_s": first["first_data_s"],
            "restore_unused": first["first_data_s"] is None}
