"""The cross-check: the same scenarios measured by two independent drivers
(the native C engine and iperf3), side by side.  If they agree, the number
is not an artefact of one tool; if they do not, the report says so.

The report's main tables use the plan's first driver; this section shows
every driver's goodput for each scenario and protocol, and the ratio of
each other driver to the first.
"""
from __future__ import annotations

import math

import pandas as pd

from bench import analysis

AGREEMENT = 0.05    # drivers agree when their medians are within 5 % of each other


def drivers_of(doc: dict) -> list[str]:
    """The run's drivers in plan order (the first is the reference)."""
    suite = doc.get("metadata", {}).get("suite", {})
    named = suite.get("drivers") or [suite.get("driver")]
    seen = list(dict.fromkeys(t.get("driver") for t in doc["trials"]))
    return [d for d in named if d in seen] + [d for d in seen if d not in named]


def primary(df: pd.DataFrame, doc: dict) -> pd.DataFrame:
    """The trials of the reference driver: one driver per median."""
    names = drivers_of(doc)
    return df[df["driver"] == names[0]] if len(names) > 1 else df


def compare(summary: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per scenario x protocol: each driver's goodput median, IQR and ok
    count, and each other driver's median over the reference's."""
    rows = []
    for (scenario, protocol), g in summary.groupby(["scenario", "protocol"], sort=False):
        by = g.set_index("driver")
        row = {"scenario": scenario, "protocol": protocol}
        for d in names:
            r = by.loc[d] if d in by.index else None
            for k in ("median", "q1", "q3"):
                row[f"{d}_{k}"] = math.nan if r is None else r[f"goodput_bps_{k}"]
            row[f"{d}_ok"] = 0 if r is None else int(r["n_ok"])
            row[f"{d}_n"] = 0 if r is None else int(r["n"])
        ref = row[f"{names[0]}_median"]
        for d in names[1:]:
            ratio = row[f"{d}_median"] / ref if ref and not math.isnan(ref) else math.nan
            row[f"{d}_ratio"] = ratio
            row[f"{d}_agrees"] = None if math.isnan(ratio) else abs(ratio - 1) <= AGREEMENT
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(row: dict, d: str) -> str:
    if math.isnan(row[f"{d}_median"]):
        return f"– ({row[f'{d}_ok']}/{row[f'{d}_n']} ok)"
    m = 1e-6
    return (f"{row[f'{d}_median'] * m:.2f} [{row[f'{d}_q1'] * m:.2f}–{row[f'{d}_q3'] * m:.2f}] "
            f"({row[f'{d}_ok']}/{row[f'{d}_n']} ok)")


def _verdict(row: dict, d: str) -> str:
    agrees = row[f"{d}_agrees"]
    if agrees is None:
        return "–"
    return f"×{row[f'{d}_ratio']:.3f} " + ("agree" if agrees else "**disagree**")


def section(doc: dict) -> list[str]:
    """The report section, or nothing when the run had a single driver."""
    names = drivers_of(doc)
    if len(names) < 2:
        return []
    df = analysis.frame(doc["trials"])
    table = compare(analysis.summarize(df), names)
    lines = ["## Cross-check: drivers side by side", "",
             f"Goodput in Mbit/s, median [IQR] over ok trials, measured by each driver in the "
             f"same run (trials interleaved per repeat); the drivers agree when their medians "
             f"are within {AGREEMENT:.0%}.  (CPU figures are not compared: iperf3's whole-system "
             f"window includes its start-up.)", "",
             "| scenario | protocol | " + " | ".join(names) + " | "
             + " | ".join(f"{d} / {names[0]}" for d in names[1:]) + " |",
             "|---|---|" + "---|" * (2 * len(names) - 1)]
    for row in table.to_dict("records"):
        lines.append(f"| {row['scenario']} | {row['protocol'].upper()} | "
                     + " | ".join(_cell(row, d) for d in names) + " | "
                     + " | ".join(_verdict(row, d) for d in names[1:]) + " |")
    return lines + [""]
