"""What a path failure cost the application, from the receiver's series
(bytes delivered per interval; for RR, transactions completed).

gap: the longest stretch after the failure in which no byte was delivered.
recovery: from the failure until delivery is back at RECOVERED_SHARE of
its rate before the failure — the rate the surviving paths can give is
lower, so the bar is deliberately modest — and stays there for two intervals.
"""
from __future__ import annotations

import statistics

RECOVERED_SHARE = 0.25
# Events that take a path away: a link down, or the client's address on it
# changed (the old subflow's path is gone with its address).
LOSSES = ("down", "readdress", "readdress_pm")


def metrics(intervals: list[int], interval_s: float, event_s: float) -> dict | None:
    """{"gap_ms", "recover_s"} for a failure at `event_s` seconds after the
    first byte; None when the series does not cover it."""
    first = int(event_s / interval_s) if event_s >= 0 else None
    series = intervals[:-1]                      # the last interval is partial
    if first is None or first < 2 or first >= len(series):
        return None
    before = statistics.median(series[max(0, first - 10):first])
    after = series[first:]
    gap, run = 0, 0
    for value in after:
        run = run + 1 if value == 0 else 0
        gap = max(gap, run)
    bar = RECOVERED_SHARE * before
    dipped = next((i for i, v in enumerate(after) if v < bar), None)
    if dipped is None:
        recover = 0.0                            # delivery never faltered
    else:
        recover = next((i * interval_s for i in range(dipped, len(after) - 1)
                        if after[i] >= bar and after[i + 1] >= bar), None)
    return {"gap_ms": gap * interval_s * 1000, "recover_s": recover}


def place(rec: dict, loop: dict, intervals: list[int], recovery: bool = True) -> None:
    """The record's link events placed on a loop's series (same monotonic
    clock), each down/up with what delivery did after it, and the columns
    of the first failure.  Without `recovery` (a paced RR series, mostly
    empty intervals: no rate to recover to) only the gap is kept."""
    for ev in rec["events"]:
        ev["at_s_from_first_byte"] = (ev["at_ns"] - loop["first_ns"]) / 1e9 if loop["first_ns"] else None
        if ev["action"] in (*LOSSES, "up") and ev["at_s_from_first_byte"] is not None:
            ev["delivery"] = metrics(intervals, loop["interval_ns"] / 1e9, ev["at_s_from_first_byte"])
            if ev["delivery"] and not recovery:
                ev["delivery"]["recover_s"] = None
    down = next((ev for ev in rec["events"] if ev["action"] in LOSSES and ev.get("delivery")), None)
    if down:
        rec["failover_gap_ms"] = down["delivery"]["gap_ms"]
        rec["failover_recover_s"] = down["delivery"]["recover_s"]
