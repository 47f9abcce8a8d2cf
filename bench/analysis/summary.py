"""The statistics a report states, on the frames of bench.analysis.rundata.

    run = analysis.open_run("reports/latest")   # or analysis.load(dir): the trials
    analysis.describe(run.trials)   # per scenario x driver x protocol x metric

Only `ok` trials enter a median.  Everything else is counted beside it:
a fallback, a stall or a failure is a finding, never noise to average away.
MPTCP/TCP ratios come from trials paired by repeat (both ok) and appear as
the pseudo-protocol "mptcp/tcp", so every statistic treats them alike.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench import results_format
from bench.analysis import statistics
from bench.analysis.metrics import METRICS
from bench.analysis.rundata import (  # noqa: F401
    KEYS,
    RATIO,
    RunData,
    frame,
    intervals_long,
    latency_long,
    load,
    open_run,
    samples,
)

HIGH_SPREAD = 0.10       # relative IQR above which a median supports no conclusion
COUNTED = results_format.STATUSES   # every trial status, in the order reports count them
STATS = ("n", "median", "q1", "q3", "min", "max", "rel_iqr", "ci_low", "ci_high")


def factorize(long: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes per row and the groups' keys (as plain objects), ordered
    by the columns' codes.  Column by column, then one np.unique: cheap on
    the categorical columns of `samples`."""
    codes = np.zeros(len(long), dtype=np.int64)
    for c in cols:
        k, uniques = pd.factorize(long[c], use_na_sentinel=False)
        codes = codes * max(len(uniques), 1) + k
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    keys = long[cols].iloc[first].reset_index(drop=True)
    return inverse.ravel(), keys.astype(object)


def describe(df: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x driver x protocol x metric over ok trials: n, median,
    quartiles, min, max, relative IQR and a bootstrap 95 % CI of the median."""
    return describe_samples(samples(df))


def describe_samples(long: pd.DataFrame) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame(columns=[*KEYS, "metric", *STATS])
    codes, keys = factorize(long, [*KEYS, "metric"])
    out = keys.assign(**statistics.summary(statistics.Grouped(long["value"].to_numpy(), codes, len(keys))))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rel_iqr"] = np.where(out["median"] != 0,
                                  (out["q3"] - out["q1"]) / out["median"].abs(), np.nan)
    return out[[*KEYS, "metric", *STATS]]


def status_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x driver x protocol: n and n_<status> for every status."""
    keys = [df[k].astype(object) for k in KEYS]
    counts = pd.crosstab(keys, df["status"], dropna=False)
    counts = counts.reindex(columns=list(COUNTED), fill_value=0).add_prefix("n_")
    counts.insert(0, "n", counts.sum(axis=1))
    counts = counts.reset_index()
    # In the run's order (first appearance), TCP before MPTCP.
    first = {k: i for i, k in enumerate(dict.fromkeys(zip(df["scenario"], df["driver"])))}
    rank = [(first.get((s, d), 0), p != "tcp") for s, d, p in
            zip(counts["scenario"], counts["driver"], counts["protocol"])]
    return counts.iloc[sorted(range(len(counts)), key=rank.__getitem__)].reset_index(drop=True)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario x driver x protocol: status counts and, over ok
    trials, `<metric>_<stat>` columns (NaN where no ok trial gave a value)."""
    counts = status_counts(df)
    d = describe(df)
    d = d[d["protocol"] != RATIO]
    wide = d.pivot_table(index=KEYS, columns="metric", values=list(STATS[1:]),
                         aggfunc="first", dropna=False)
    wide.columns = [f"{metric}_{stat}" for stat, metric in wide.columns]
    wanted = [f"{m}_{s}" for m in METRICS for s in STATS[1:]]
    wide = wide.reindex(columns=wanted).reset_index() if len(wide) else \
        pd.DataFrame(columns=[*KEYS, *wanted])
    out = counts.merge(wide, on=KEYS, how="left")
    first = df.groupby(KEYS, sort=False, dropna=False)["expected_goodput_bps"].first()
    out = out.merge(first.reset_index(), on=KEYS, how="left")
    ok = df[df["status"] == "ok"]
    subflows = pd.to_numeric(ok["subflows"]).groupby([ok[k] for k in KEYS], dropna=False).median()
    return out.merge(subflows.rename("subflows_median").reset_index(), on=KEYS, how="left")


def paired_ratios(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per scenario and driver: the median of the per-repeat MPTCP/TCP
    ratios of `metric` (both trials ok) with its bootstrap 95 % interval."""
    d = describe(df)
    d = d[(d["protocol"] == RATIO) & (d["metric"] == metric)]
    return d.rename(columns={"n": "pairs", "median": "ratio"})[
        ["scenario", "driver", "metric", "pairs", "ratio", "ci_low", "ci_high"]]
