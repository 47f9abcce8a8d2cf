"""A sender's per-subflow byte counters (harness.traffic.subflow_sampler) put on the
receiver's interval grid: bytes per subflow per interval, the series the
report stacks.  Pure, so it is tested on recorded samples."""
from __future__ import annotations

import numpy as np


def on_grid(series: dict, start_ns: int, interval_ns: int, n: int) -> list[list[int]] | None:
    """Per subflow, the bytes acked in each of the `n` intervals of the grid
    starting at `start_ns`: each subflow's cumulative bytes_acked is
    interpolated at the grid's boundaries (a subflow counts 0 before its
    first sample, and keeps its last count after its last).  None when
    there are fewer than two samples or no intervals."""
    t = np.asarray(series.get("t_ns") or [], dtype=float)
    if len(t) < 2 or n <= 0 or interval_ns <= 0:
        return None
    edges = start_ns + interval_ns * np.arange(n + 1, dtype=float)
    out = []
    for sf in series["subflows"]:
        acked = np.array([np.nan if v is None else v for v in sf["bytes_acked"]], dtype=float)
        known = ~np.isnan(acked)
        if not known.any():
            out.append([0] * n)
            continue
        cum = np.interp(edges, t[known], acked[known], left=0.0)
        out.append([int(round(d)) for d in np.maximum(np.diff(cum), 0.0)])
    return out
