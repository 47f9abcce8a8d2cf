"""Change points of a series, found by Apache Otava (the Hunter algorithm:
E-divisive in sliding windows, each candidate kept only when a t-test on
the segments either side gives p < MAX_PVALUE), on the per-run medians.

Each change point is stated with the runs either side, the relative change
of the medians of all trial values of the segment before and after it with
a bootstrap 95 % interval, and its direction from the metric registry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.analysis import metrics, statistics
from bench.errors import InputError

# Otava's default is p < 0.001; the split it tests is the best of many, so
# that p is optimistic: 3 % of stationary series of 40 runs got a change
# point.  At 1e-5 none of 200 did, and a 5-sigma step is still found in 198
# of 200 (docs/history.md).
MAX_PVALUE = 1e-5
WINDOW = 50              # runs per E-divisive window (Otava's default)
MIN_POINTS = 4           # fewer runs cannot show a change with p < MAX_PVALUE


def _otava():
    try:
        from otava.analysis import compute_change_points
    except ImportError:
        raise InputError("change-point detection needs Apache Otava: install it with "
                             "`.venv/bin/pip install 'mptcp-bench[history]'` (`make venv` does)") from None
    return compute_change_points


@dataclass
class ChangePoint:
    index: int              # the first run after the change
    pvalue: float
    change: float           # median(after) / median(before) - 1, over trial values
    ci_low: float
    ci_high: float
    direction: str          # "better" | "worse" | "unchanged"
    before: tuple[int, int]  # the segment's run positions [start, stop)
    after: tuple[int, int]


def detect(medians, values=None, metric: str = "goodput_bps",
           max_pvalue: float = MAX_PVALUE) -> list[ChangePoint]:
    """Change points of one series.  `values` are each run's trial values
    (default: the medians alone)."""
    medians = np.asarray(medians, dtype=float)
    if len(medians) < MIN_POINTS:
        return []
    found, _ = _otava()(list(medians), window_len=WINDOW, max_pvalue=max_pvalue)
    idx = sorted(int(c.index) for c in found)
    pvalue = {int(c.index): float(c.stats.pvalue) for c in found}
    values = [np.atleast_1d(np.asarray(v, float)) for v in (values if values is not None else medians)]
    bounds = [0, *idx, len(medians)]
    out = []
    for k, i in enumerate(idx):
        before, after = (bounds[k], i), (i, bounds[k + 2])
        a = np.concatenate(values[before[0]:before[1]])
        b = np.concatenate(values[after[0]:after[1]])
        change, lo, hi = relative_change(a, b)
        significant = not (lo <= 0 <= hi)
        direction = ("worse" if metrics.worse(metric, change) else "better") if significant \
            else "unchanged"
        out.append(ChangePoint(i, pvalue[i], change, lo, hi, direction, before, after))
    return out


def relative_change(a, b) -> tuple[float, float, float]:
    """median(b) / median(a) - 1 and its bootstrap 95 % interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ga = statistics.Grouped(a, np.zeros(len(a), dtype=np.int64), 1)
    gb = statistics.Grouped(b, np.zeros(len(b), dtype=np.int64), 1)
    lo, hi = statistics.change_ci(ga, gb)
    base = float(np.median(a))
    change = float(np.median(b)) / base - 1 if base else float("nan")
    return change, float(lo[0]), float(hi[0])
