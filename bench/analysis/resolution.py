"""What this machine resolves: the floor under a TCP–MPTCP difference in
the trials' own CPU (docs/method.md, "What the machine resolves").

Per scenario, driver and own-CPU metric, each ok trial's foreign CPU is put
in the metric's unit (foreign seconds per GB, per second, per transaction:
cpu_foreign_s x metric / cpu_own_s); the floor is the larger of the two
protocols' interquartile ranges of it.  A difference of the protocols'
medians below the floor is not resolved: the foreign load moved more
than that from trial to trial, and part of it reaches the own figure.
The same floor stands under a change between two runs (compare, gate,
gate --history): the larger of the two runs' spreads for that protocol.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CPU_METRICS = ("cpu_own_s_per_gb", "cpu_own_per_s", "cpu_own_us_per_transaction",
               "cpu_own_us_per_connection")
MIN_TRIALS = 2       # per protocol: one trial has no spread
COLUMNS = ("scenario", "driver", "metric", "floor", "difference", "resolved")


def _per_protocol(ok: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per scenario x driver x protocol: n, the metric's median and the IQR
    of foreign CPU in its unit."""
    value = pd.to_numeric(ok[metric], errors="coerce")
    own = pd.to_numeric(ok["cpu_own_s"], errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        foreign = pd.to_numeric(ok["cpu_foreign_s"], errors="coerce") * value / own.where(own > 0)
    frame = pd.DataFrame({"scenario": ok["scenario"], "driver": ok["driver"],
                          "protocol": ok["protocol"], "value": value, "foreign": foreign})
    g = frame.groupby(["scenario", "driver", "protocol"], sort=False, dropna=False)
    return pd.DataFrame({"n": g["foreign"].count(), "median": g["value"].median(),
                         "iqr": g["foreign"].quantile(0.75) - g["foreign"].quantile(0.25)})


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["status"] == "ok") & df["protocol"].isin(("tcp", "mptcp"))]


def spreads(df: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x driver x protocol x own-CPU metric with at least
    MIN_TRIALS ok trials: the foreign CPU's IQR in the metric's unit
    (columns scenario, driver, protocol, metric, floor)."""
    ok, parts = _ok(df), []
    for metric in CPU_METRICS:
        if metric not in ok or "cpu_foreign_s" not in ok or ok[metric].isna().all():
            continue
        per = _per_protocol(ok, metric)
        per = per[(per["n"] >= MIN_TRIALS) & per["iqr"].notna()]
        parts.append(per["iqr"].rename("floor").reset_index().assign(metric=metric))
    cols = ["scenario", "driver", "protocol", "metric", "floor"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def between(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """The floor under a change from run `base` to run `cand` (their trial
    frames), per scenario x driver x protocol x metric both runs resolve:
    the larger spread."""
    both = pd.concat([spreads(base), spreads(cand)], ignore_index=True)
    keys = ["scenario", "driver", "protocol", "metric"]
    for k in keys:
        both[k] = both[k].astype(str)
    return both.groupby(keys, sort=False)["floor"].max().reset_index()


def floors(df: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario x driver x own-CPU metric with both protocols'
    ok trials measured: floor, difference of the medians, resolved."""
    ok = _ok(df)
    rows = []
    for metric in CPU_METRICS:
        if metric not in ok or ok[metric].isna().all():
            continue
        per = _per_protocol(ok, metric)
        for (scenario, driver), g in per.groupby(level=[0, 1], sort=False, dropna=False):
            g = g.droplevel([0, 1])
            if not {"tcp", "mptcp"} <= set(g.index) or (g["n"] < MIN_TRIALS).any():
                continue
            floor = float(g["iqr"].max())
            diff = abs(float(g.loc["mptcp", "median"] - g.loc["tcp", "median"]))
            rows.append((scenario, driver, metric, floor, diff, bool(diff >= floor)))
    return pd.DataFrame(rows, columns=list(COLUMNS))
