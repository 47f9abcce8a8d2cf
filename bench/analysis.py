"""Trials as a pandas DataFrame and the statistics a report states.

Only `ok` trials enter a median.  Everything else is counted beside it:
a fallback, a stall or a failure is a finding, never noise to average away.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench import schema

# metric -> (label, unit, scale to unit, better direction)
METRICS = {
    "goodput_bps": ("goodput", "Mbit/s", 1e-6, "higher"),
    "cpu_system_s_per_gb": ("system CPU", "s/GB", 1.0, "lower"),
    "cpu_sender_s_per_gb": ("sender CPU", "s/GB", 1.0, "lower"),
    "cpu_receiver_s_per_gb": ("receiver CPU", "s/GB", 1.0, "lower"),
    "retransmits": ("retransmits", "segments", 1.0, "lower"),
}
HIGH_SPREAD = 0.10       # relative IQR above which a median supports no conclusion
BOOTSTRAP_RESAMPLES = 2000
COUNTED = ("ok", "fallback", "partial", "stalled", "failed", "unsupported", "interrupted")


def frame(trials: list[dict]) -> pd.DataFrame:
    cols = [*schema.CORE_COLUMNS, *schema.EXTRA_COLUMNS]
    return pd.DataFrame([schema.csv_row(t) for t in trials], columns=cols)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario x driver x protocol: counts per status and, over ok
    trials, median / quartiles / min / max of each metric."""
    rows = []
    # Per driver too: two drivers measure the same thing, never one sample.
    for (scenario, driver, protocol), g in df.groupby(["scenario", "driver", "protocol"],
                                                      sort=False, dropna=False):
        row = {"scenario": scenario, "driver": driver, "protocol": protocol, "n": len(g)}
        for status in COUNTED:
            row[f"n_{status}"] = int((g["status"] == status).sum())
        ok = g[g["status"] == "ok"]
        for metric in METRICS:
            values = pd.to_numeric(ok[metric], errors="coerce").dropna()
            row.update(_describe(metric, values))
        row["expected_goodput_bps"] = g["expected_goodput_bps"].iloc[0]
        row["subflows_median"] = pd.to_numeric(ok["subflows"], errors="coerce").median()
        rows.append(row)
    return pd.DataFrame(rows)


def _describe(metric: str, values: pd.Series) -> dict:
    if values.empty:
        return {f"{metric}_{k}": np.nan for k in ("median", "q1", "q3", "min", "max", "rel_iqr")}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {f"{metric}_median": med, f"{metric}_q1": q1, f"{metric}_q3": q3,
            f"{metric}_min": values.min(), f"{metric}_max": values.max(),
            f"{metric}_rel_iqr": (q3 - q1) / med if med else np.nan}


def paired_ratios(df: pd.DataFrame, metric: str, num: str = "mptcp", den: str = "tcp") -> pd.DataFrame:
    """Per scenario and driver: num/den ratio of `metric` from trials paired by repeat
    (both ok), its median and a bootstrap 95 % interval of that median."""
    rows = []
    for (scenario, driver), g in df.groupby(["scenario", "driver"], sort=False, dropna=False):
        ok = g[g["status"] == "ok"]
        a = ok[ok["protocol"] == num].set_index("repeat")[metric]
        b = ok[ok["protocol"] == den].set_index("repeat")[metric]
        both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
        both = both[both["b"] > 0]
        ratios = (both["a"] / both["b"]).to_numpy(dtype=float)
        lo, hi = bootstrap_median_ci(ratios)
        rows.append({"scenario": scenario, "driver": driver, "metric": metric, "pairs": len(ratios),
                     "ratio": float(np.median(ratios)) if len(ratios) else np.nan,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def bootstrap_median_ci(values: np.ndarray, level: float = 0.95,
                        seed: int = 20261128) -> tuple[float, float]:
    """Percentile bootstrap interval of the median (fixed seed: a report
    re-rendered from the same data states the same interval)."""
    if len(values) < 2:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    draws = rng.choice(values, size=(BOOTSTRAP_RESAMPLES, len(values)), replace=True)
    medians = np.median(draws, axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(medians, [tail, 100 - tail])
    return float(lo), float(hi)
