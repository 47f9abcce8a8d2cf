"""A run in other tools' formats.

pyperf: every scenario x protocol x metric of the ok trials becomes a
pyperf benchmark, one pyperf run per trial, so that `python -m pyperf
stats|hist FILE` and `python -m pyperf compare_to BASE CAND` work.  pyperf
knows only time-like values where lower is faster: metrics where higher is
better are exported as their reciprocal (goodput as seconds per GB
delivered, transactions as seconds per transaction), named so, and every
value is in seconds.  Counts of trials that were not ok ride along as
metadata: pyperf never sees them, and never averages them in.

CSV and Parquet: the tidy tables of bench.analysis — trials, summary
(describe), intervals and latency samples (long forms).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyperf

from bench.analysis import summary
from bench.analysis.summary import RunData

# metric -> (exported name, value -> seconds, description)
PYPERF = {
    "goodput_bps": ("goodput_s_per_gb", lambda v: 8e9 / v,
                    "seconds to deliver one GB at the trial's goodput (1 GB / goodput)"),
    "transactions_per_s": ("transaction_s", lambda v: 1 / v,
                           "seconds per transaction (1 / transaction rate)"),
    "cpu_own_s_per_gb": ("cpu_own_s_per_gb", float, "the trial's own CPU s per GB"),
    "cpu_own_per_s": ("cpu_own_s_per_s", float, "the trial's own CPU s per second of its window"),
    "cpu_system_s_per_gb": ("cpu_system_s_per_gb", float, "whole-system busy CPU s per GB"),
    "cpu_system_outer_s_per_gb": ("cpu_system_outer_s_per_gb", float,
                                  "whole-system busy CPU s per GB over the whole trial window"),
    "cpu_sender_s_per_gb": ("cpu_sender_s_per_gb", float, "sender process CPU s per GB"),
    "cpu_receiver_s_per_gb": ("cpu_receiver_s_per_gb", float, "receiver process CPU s per GB"),
    "cpu_own_us_per_transaction": ("cpu_own_s_per_transaction", lambda v: v * 1e-6,
                                   "the trial's own CPU s per transaction"),
    "cpu_system_us_per_transaction": ("cpu_system_s_per_transaction", lambda v: v * 1e-6,
                                      "whole-system busy CPU s per transaction"),
    **{f"latency_us_{p}": (f"latency_{p}", lambda v: v * 1e-6, f"{p} transaction latency")
       for p in ("p50", "p90", "p99", "p999", "max")},
    "connect_ms": ("connect", lambda v: v * 1e-3, "the client's first connect()"),
    "failover_gap_ms": ("failover_gap", lambda v: v * 1e-3, "delivery gap after a path failed"),
    "failover_recover_s": ("failover_recover", float, "time to recover after a path failed"),
    "restore_first_data_s": ("restore_first_data", float,
                             "time until a restored path carried data again"),
}


def _run_metadata(run: RunData) -> dict:
    meta = run.metadata
    kernel, cpu, git = meta.get("kernel") or {}, meta.get("cpu") or {}, meta.get("git") or {}
    out = {"hostname": meta.get("hostname"), "platform": f"Linux-{kernel.get('release')}",
           "cpu_model_name": cpu.get("model"), "cpu_count": cpu.get("count"),
           "python_version": meta.get("python"), "date": meta.get("started"),
           "mptcp_bench_run_id": run.run_id, "mptcp_bench_revision": git.get("revision"),
           "mptcp_bench_suite": (meta.get("suite") or {}).get("name")}
    return {k: v for k, v in out.items() if isinstance(v, (str, int, float)) and v != ""}


def _not_ok(trials: pd.DataFrame) -> pd.Series:
    """Per scenario x driver x protocol: '2 (fallback 1, stalled 1)'."""
    bad = trials[trials["status"] != "ok"]
    counts = bad.groupby([*summary.KEYS, "status"], dropna=False).size()
    text = {}
    for key, group in counts.groupby(level=[0, 1, 2], dropna=False):
        parts = ", ".join(f"{s} {n}" for (*_, s), n in group.items())
        text[key] = f"{group.sum()} ({parts})"
    return pd.Series(text, dtype=object)


def to_pyperf(run: RunData) -> pyperf.BenchmarkSuite:
    trials = run.trials
    ok = trials[trials["status"] == "ok"]
    common, not_ok = _run_metadata(run), _not_ok(trials)
    several = trials["driver"].nunique(dropna=False) > 1
    benchmarks = []
    for metric, (name, to_s, what) in PYPERF.items():
        if metric not in ok or ok[metric].isna().all():
            continue
        for key, group in ok.groupby(summary.KEYS, sort=False, dropna=False):
            scenario, driver, protocol = key
            values = [to_s(v) for v in group[metric].dropna().astype(float) if v > 0]
            if not values:
                continue
            full = f"{scenario}/{driver}/{protocol}/{name}" if several else \
                f"{scenario}/{protocol}/{name}"
            meta = {**common, "name": full, "unit": "second", "description": what,
                    "mptcp_bench_metric": metric,
                    "mptcp_bench_trials_not_ok": not_ok.get(key, "0")}
            runs = [pyperf.Run([v], metadata=meta, collect_metadata=False) for v in values]
            benchmarks.append(pyperf.Benchmark(runs))
    return pyperf.BenchmarkSuite(benchmarks)


def tables(run: RunData) -> dict[str, pd.DataFrame]:
    out = {"trials": run.trials, "summary": summary.describe(run.trials),
           "intervals": run.intervals}
    if len(run.latency):
        out["latency"] = run.latency
    return out


def write(run: RunData, formats: list[str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "pyperf" in formats:
        path = out / "pyperf.json"
        to_pyperf(run).dump(str(path), compact=False, replace=True)
        written.append(path)
    for name, df in (tables(run).items() if {"csv", "parquet"} & set(formats) else ()):
        if "csv" in formats:
            written.append(out / f"{name}.csv")
            df.to_csv(written[-1], index=False)
        if "parquet" in formats:
            written.append(out / f"{name}.parquet")
            df.to_parquet(written[-1], index=False)
    return written
