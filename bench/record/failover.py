"""What a path failure cost the application, from the receiver's series.

gap: the longest stretch after the failure in which no byte was delivered.
recovery: from the failure until delivery is back at RECOVERED_SHARE of
its rate before the failure — the rate the surviving paths can give is
lower, so the bar is deliberately modest — and stays there for two intervals.
"""
from __future__ import annotations

import statistics

RECOVERED_SHARE = 0.25


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
