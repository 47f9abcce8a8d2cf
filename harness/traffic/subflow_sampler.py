"""Per-subflow byte counters over time, sampled on an MPTCP sender.

A thread reads the socket's per-subflow detail (MPTCP_FULL_INFO, or its
fallback on older kernels) every interval while the C send loop runs with
the GIL released, and keeps each subflow's cumulative bytes_acked with the
CLOCK_MONOTONIC time of the sample, the clock of the engine's own interval
series.  bench.record.trial aligns these counters with the receiver's intervals:
that is the "stacked per subflow" view of a trial, and the one that shows
traffic moving to the other path when a link fails.

Subflows are keyed by their local and remote address:port, which is what
identifies one for its whole life; a subflow that closes keeps its last
count (bytes_acked never decreases), one that appears later starts with
None for the samples before it existed.
"""
from __future__ import annotations

import threading
import time

from harness.traffic import engine


class SubflowSampler:
    """Use as a context manager around the send loop; `.series()` after."""

    def __init__(self, fd: int, interval_ms: float):
        self.fd = fd
        self.period_s = interval_ms / 1000
        self.t_ns: list[int] = []
        self.counts: dict[tuple, list] = {}
        self._refused = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="subflow-sampler", daemon=True)

    def __enter__(self) -> "SubflowSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def sample(self) -> None:
        if self._refused:
            return
        try:
            detail = engine.subflows(self.fd)
        except OSError:                 # e.g. EOPNOTSUPP: the connection fell back to TCP
            self._refused = True
            return
        now = time.monotonic_ns()
        n = len(self.t_ns)
        for sf in detail["subflows"]:
            key = (sf.get("local"), sf.get("remote"))
            self.counts.setdefault(key, [None] * n).append(sf.get("bytes_acked"))
        self.t_ns.append(now)
        for series in self.counts.values():       # subflows not seen in this sample
            if len(series) == n:
                series.append(series[-1])

    def series(self) -> dict:
        """{t_ns, subflows: [{local, remote, bytes_acked: [...]}]}, in the
        order the subflows first appeared (sampling stops at the first
        refusal: after a fallback to TCP there are no subflows to read)."""
        return {"t_ns": self.t_ns,
                "subflows": [{"local": k[0], "remote": k[1], "bytes_acked": v}
                             for k, v in self.counts.items()]}
