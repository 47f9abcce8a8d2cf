"""Per-transaction latency statistics for the RR and CRR workloads.

The C loops hand back every transaction's latency as packed uint64
nanoseconds; the summary computed here uses all of them.  Percentiles are
nearest-rank ("inverted_cdf"): each one is a latency that was observed, not
an interpolation between two.
"""
from __future__ import annotations

import numpy as np

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
KEEP_SAMPLES = 2000   # latencies kept per trial record (in time order)


def as_array(latency_ns: bytes) -> np.ndarray:
    """The C loop's packed native uint64 nanoseconds, without a copy."""
    return np.frombuffer(latency_ns, dtype=np.uint64)


def summarize(latency_ns: np.ndarray) -> dict:
    """{transactions, p50_us, p90_us, p99_us, p999_us, max_us, mean_us};
    None values when there was no transaction."""
    n = int(latency_ns.size)
    if n == 0:
        return {"transactions": 0, **{f"{k}_us": None for k in (*PERCENTILES, "max", "mean")}}
    us = latency_ns.astype(np.float64) / 1e3
    values = np.percentile(us, list(PERCENTILES.values()), method="inverted_cdf")
    out = {"transactions": n}
    out.update({f"{k}_us": float(v) for k, v in zip(PERCENTILES, values)})
    out["max_us"] = float(us.max())
    out["mean_us"] = float(us.mean())
    return out


def decimate(latency_ns: np.ndarray, keep: int = KEEP_SAMPLES) -> list[float]:
    """At most `keep` latencies in µs, evenly strided in completion order, so
    that a record can show how latency moved over the trial."""
    if latency_ns.size == 0:
        return []
    step = max(1, -(-latency_ns.size // keep))   # ceil
    return [round(float(v) / 1e3, 2) for v in latency_ns[::step]]


def rate(transactions: int, start_ns: int, end_ns: int) -> float | None:
    span = (end_ns - start_ns) / 1e9
    return transactions / span if span > 0 else None
