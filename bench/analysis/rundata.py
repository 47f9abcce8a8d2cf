"""A run directory as pandas DataFrames.

    run = open_run("reports/latest")
    run.trials      # tidy: one row per trial, the core columns, extras and metrics
    run.intervals   # long form: one row per trial x interval (goodput over time)
    run.latency     # long form: one row per trial x latency sample
    run.samples     # long form: one row per ok trial x metric, plus MPTCP/TCP ratios
    run.head        # the results document without its trials (metadata, scenarios)
    run.doc         # the whole results document, upgraded to the current schema

Reading a run of 100 000 trials should take a moment, not a minute, so
nothing is parsed before it is asked for: the head comes from the start of
results.json; the trials table from trials.csv when that file is the one
written with this results.json (current schema, not older than it), else
from the document's trials; the document itself (nested fields: interval
series, per-subflow detail) only when a long form or a report needs it.
Both ways to the table give the same frame (tests/unit/test_rundata.py).
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from bench import results_format
from bench.analysis.metrics import METRICS
from bench.results_format import CSV, RESULTS

KEYS = ["scenario", "driver", "protocol"]
RATIO = "mptcp/tcp"         # the pseudo-protocol of per-repeat MPTCP/TCP ratios
COLUMNS = [*results_format.CORE_COLUMNS, *results_format.EXTRA_COLUMNS]
TEXT = ("run_id", "scenario", "protocol", "driver", "status", "reason", "cpu_placement",
        "workload", "send_mode", "recv_mode")
SERIES_IDS = ["run_id", "scenario", "driver", "protocol", "repeat", "seq", "status"]


class RunData:
    """One run: its results document's head at once, the rest on demand."""

    def __init__(self, doc: dict | None = None, path: Path | None = None,
                 head: dict | None = None):
        self._doc, self.path = doc, path
        self.head = head if head is not None else {k: v for k, v in doc.items() if k != "trials"}

    @property
    def doc(self) -> dict:
        if self._doc is None:
            self._doc = results_format.load_results(self.path / RESULTS)
        return self._doc

    @property
    def run_id(self) -> str:
        return self.head["run_id"]

    @property
    def metadata(self) -> dict:
        return self.head.get("metadata") or {}

    @property
    def scenarios(self) -> dict:
        return self.head.get("scenarios") or {}

    @cached_property
    def trials(self) -> pd.DataFrame:
        if self._doc is None and self.path is not None:
            table = _csv_table(self.path, self.head)
            if table is not None:
                return table
        return frame(self.doc["trials"])

    @cached_property
    def samples(self) -> pd.DataFrame:
        return samples(self.trials)

    @cached_property
    def intervals(self) -> pd.DataFrame:
        return intervals_long(self.doc["trials"])

    @cached_property
    def latency(self) -> pd.DataFrame:
        return latency_long(self.doc["trials"])


def open_run(path: str | Path) -> RunData:
    """A run directory (or its results.json).  An older schema is upgraded
    (bench.results_format.UPGRADES), a newer one refused with advice."""
    path = Path(path)
    file = path if path.suffix == ".json" else path / RESULTS
    head = results_format.load_head(file)
    if head["schema_version"] != results_format.SCHEMA_VERSION:
        return RunData(results_format.load_results(file), file.parent)
    return RunData(path=file.parent, head=head)


def load(path: str | Path) -> pd.DataFrame:
    """The tidy trials DataFrame of a run directory: one row per trial."""
    return open_run(path).trials


def frame(trials: list[dict]) -> pd.DataFrame:
    return _tidy(pd.DataFrame({c: [t.get(c) for t in trials] for c in COLUMNS}, columns=COLUMNS))


def _csv_table(path: Path, head: dict) -> pd.DataFrame | None:
    """trials.csv as the trials table, when it was written with (after) this
    results.json and belongs to the same run; None otherwise."""
    csv, results = path / CSV, path / RESULTS
    try:
        if csv.stat().st_mtime_ns < results.stat().st_mtime_ns:
            return None
        df = pd.read_csv(csv, dtype={c: object for c in TEXT}, keep_default_na=False,
                         na_values=[""])
        for c in results_format.NUMERIC_COLUMNS:    # a damaged numeric column raises here
            if c in df and df[c].dtype == object:
                pd.to_numeric(df[c].dropna(), errors="raise")
    except (OSError, ValueError, KeyError, TypeError):   # damaged: results.json decides
        return None
    if len(df) and df["run_id"].iloc[0] != head["run_id"]:
        return None
    return _tidy(df.reindex(columns=COLUMNS))


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """One representation, however the table was read: empty columns are
    float NaN; text and mixed columns are Python objects with None for
    missing (grouping on pandas' Arrow strings costs several times more at
    1e5 rows)."""
    out = {}
    for c in df.columns:
        col = df[c]
        if col.isna().all():
            out[c] = pd.Series(np.nan, index=df.index, dtype=float)
        elif col.dtype == object or pd.api.types.is_string_dtype(col):
            obj = col.astype(object)
            out[c] = obj.where(obj.notna(), None)
        else:
            out[c] = col
    return pd.DataFrame(out, index=df.index)


def _series_frame(trials: list[dict], field: str, value: str) -> tuple[pd.DataFrame, list]:
    have = [t for t in trials if t.get(field)]
    lengths = np.array([len(t[field]) for t in have], dtype=np.int64)
    out = pd.DataFrame({c: np.repeat(np.array([t.get(c) for t in have], dtype=object), lengths)
                        for c in SERIES_IDS})
    out[value] = np.concatenate([t[field] for t in have]).astype(float) if have else []
    out["index"] = np.concatenate([np.arange(n) for n in lengths]) if have else []
    return out, have


def intervals_long(trials: list[dict]) -> pd.DataFrame:
    """Goodput over time: one row per trial and interval; t_s is the end of
    the interval from the receiver's first byte."""
    out, have = _series_frame(trials, "intervals_bytes", "bytes")
    step = np.repeat([t.get("interval_s") or np.nan for t in have],
                     [len(t["intervals_bytes"]) for t in have]) if have else []
    out["t_s"] = (out["index"] + 1) * step
    out["goodput_bps"] = out["bytes"] * 8 / step
    return out


def latency_long(trials: list[dict]) -> pd.DataFrame:
    """Per-transaction latencies: one row per trial and sample."""
    return _series_frame(trials, "latency_samples_us", "latency_us")[0]


def samples(df: pd.DataFrame) -> pd.DataFrame:
    """Long form of every metric of the ok trials: scenario, driver,
    protocol, repeat, metric, value — plus the per-repeat MPTCP/TCP ratios
    (both trials of the repeat ok) as protocol "mptcp/tcp".  Key columns
    are categorical: half a million rows take and group in milliseconds."""
    ok = df[df["status"] == "ok"]
    present = [m for m in METRICS if m in ok and ok[m].notna().any()]
    ok = ok[[*KEYS, "repeat", *present]].astype({m: float for m in present})
    pair = ["scenario", "driver", "repeat"]
    tcp, mptcp = (ok[ok["protocol"] == p].drop(columns="protocol").drop_duplicates(pair)
                  .set_index(pair) for p in ("tcp", "mptcp"))
    ratios = (mptcp / tcp.where(tcp > 0)).reset_index().assign(protocol=RATIO)
    wide = pd.concat([ok, ratios], ignore_index=True)
    # Melt by hand: metric-major, NaN left out, one integer take per column.
    values = wide[present].to_numpy(dtype=float).T
    m, r = np.nonzero(~np.isnan(values))
    out = {}
    for c in KEYS:
        codes, uniques = pd.factorize(wide[c])
        out[c] = pd.Categorical.from_codes(codes[r], categories=uniques)
    out["repeat"] = wide["repeat"].to_numpy()[r]
    out["metric"] = pd.Categorical.from_codes(m, categories=present)
    out["value"] = values[m, r]
    return pd.DataFrame(out)
