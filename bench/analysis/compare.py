"""Two runs side by side: per scenario x driver x protocol x metric, both
medians, the relative change with a bootstrap 95 % interval, a Mann-Whitney
U test and a direction-aware verdict; per scenario x protocol, whether more
trials came out not ok (fallback, partial, stalled, failed) than before.
Only ok trials give samples, so disturbed ones are left out; a change in
the trials' own CPU smaller than the foreign CPU's spread in either run
(bench.analysis.resolution) is "unresolved", neither worse nor better.

Runs are compared on the scenarios both ran.  Their metadata differences
come from bench.comparability; one that changes what was measured makes the
runs incomparable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis import comparability, metrics, resolution, statistics, summary
from bench.analysis.summary import KEYS, RunData

ALPHA = 0.05          # significance level of every test here
BAD = ("fallback", "partial", "stalled", "failed")
# Trials an outcome count leaves out: not run, or (disturbed) run on a
# machine too busy to say anything of the kernel; a re-run counts instead.
UNCOUNTED = ("skipped", "interrupted", "unsupported", "disturbed")
GROUP = [*KEYS, "metric"]


@dataclass
class Comparison:
    base: RunData
    cand: RunData
    rows: pd.DataFrame                   # one per GROUP present in both runs
    outcomes: pd.DataFrame               # one per KEYS: not-ok trial counts
    differences: list = field(default_factory=list)
    only_base: list = field(default_factory=list)
    only_cand: list = field(default_factory=list)

    @property
    def incomparable(self) -> list:
        return comparability.incomparable(self.differences)


def compare(base: RunData, cand: RunData) -> Comparison:
    sb, sc = set(base.trials["scenario"]), set(cand.trials["scenario"])
    common = sb & sc
    tb = base.trials[base.trials["scenario"].isin(common)]
    tc = cand.trials[cand.trials["scenario"].isin(common)]
    lb, lc = (s[s["scenario"].isin(common)] for s in (base.samples, cand.samples))
    rows = with_floor(metric_rows(lb, lc), resolution.between(tb, tc))
    return Comparison(base, cand, rows, outcome_rows(tb, tc),
                      comparability.differences(base.head, cand.head, common),
                      sorted(sb - sc), sorted(sc - sb))


def metric_rows(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """Both sides' medians, change, its CI, the U test's p and a verdict,
    for every group with samples on both sides."""
    side = np.repeat([0, 1], [len(base), len(cand)])
    codes, keys = summary.factorize(_concat(base, cand), GROUP)
    values = np.concatenate([base["value"].to_numpy(float), cand["value"].to_numpy(float)])
    gb, gc = (statistics.Grouped(values[side == s], codes[side == s], len(keys)) for s in (0, 1))
    rows = keys.assign(base_n=gb.n, base_median=gb.quantile(0.5),
                       cand_n=gc.n, cand_median=gc.quantile(0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["change"] = np.where(rows["base_median"] != 0,
                                  rows["cand_median"] / rows["base_median"] - 1, np.nan)
    rows["ci_low"], rows["ci_high"] = statistics.change_ci(gb, gc)
    rows["p_value"] = statistics.u_tests(gb, gc)
    rows = rows[(gb.n > 0) & (gc.n > 0)].reset_index(drop=True)
    rows["better"] = [metrics.get(m).better for m in rows["metric"]]
    rows["verdict"] = [_verdict(*r) for r in zip(rows["metric"], rows["base_n"], rows["cand_n"],
                                                 rows["change"], rows["p_value"])]
    return rows


def with_floor(rows: pd.DataFrame, floors: pd.DataFrame) -> pd.DataFrame:
    """`floor` per row (NaN where the metric has none), and "unresolved"
    for a worse or better verdict whose medians lie closer than it."""
    index = {tuple(r[:4]): r[4] for r in floors.itertuples(index=False)}
    rows = rows.copy()
    rows["floor"] = [index.get((str(s), str(d), str(p), str(m)), np.nan) for s, d, p, m in
                     zip(rows["scenario"], rows["driver"], rows["protocol"], rows["metric"])]
    close = (rows["cand_median"] - rows["base_median"]).abs() < rows["floor"]
    rows.loc[close & rows["verdict"].isin(["worse", "better"]), "verdict"] = "unresolved"
    return rows


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two sample frames as one, their categorical keys on shared categories
    (pd.concat falls back to slow Python objects otherwise)."""
    a, b = a.copy(), b.copy()
    for c in GROUP:
        if isinstance(a[c].dtype, pd.CategoricalDtype) and isinstance(b[c].dtype, pd.CategoricalDtype):
            union = a[c].cat.categories.union(b[c].cat.categories, sort=False)
            a[c], b[c] = a[c].cat.set_categories(union), b[c].cat.set_categories(union)
    return pd.concat([a, b], ignore_index=True)


def min_p(n: int, m: int) -> float:
    """The smallest two-sided p the exact U test can give for n vs m values
    (complete separation): below ALPHA only from 4 vs 4 trials on."""
    return 2 / math.comb(n + m, n)


def _verdict(metric: str, base_n: int, cand_n: int, change: float, p: float) -> str:
    if base_n < 2 or cand_n < 2 or np.isnan(p) or min_p(int(base_n), int(cand_n)) >= ALPHA:
        return "insufficient"
    if p >= ALPHA or change == 0:
        return "unchanged"
    return "worse" if metrics.worse(metric, change) else "better"


def outcome_rows(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """Trials that came out not ok, per scenario x driver x protocol; more
    of them in the candidate is "worse" when Fisher's exact test (one-sided)
    says so — one stall among six trials proves nothing, six fallbacks do."""
    def counts(df):
        real = df[~df["status"].isin(UNCOUNTED)]
        bad = real["status"].isin(BAD)
        return pd.DataFrame({"n": real.groupby(KEYS, dropna=False).size(),
                             "bad": bad.groupby([real[k] for k in KEYS], dropna=False).sum()})
    rows = counts(base).add_prefix("base_").join(counts(cand).add_prefix("cand_"), how="inner")
    rows = rows.reset_index()
    rows["p_value"] = [statistics.more_bad_p(r.cand_bad, r.cand_n, r.base_bad, r.base_n)
                       for r in rows.itertuples()]
    rows["verdict"] = ["worse" if p < ALPHA else "unchanged" for p in rows["p_value"]]
    return rows


def group_label(row, show_driver: bool) -> str:
    proto = "MPTCP/TCP" if row.protocol == summary.RATIO else str(row.protocol).upper()
    driver = f" ({row.driver})" if show_driver else ""
    return f"{row.scenario}{driver} {proto} {metrics.get(row.metric).label}"


def value_text(metric: str, protocol: str, value: float) -> str:
    if np.isnan(value):
        return "–"
    if protocol == summary.RATIO:
        return f"×{value:.3f}"
    m = metrics.get(metric)
    return f"{m.show(value)} {m.unit}"


def change_text(row) -> str:
    ci = ("" if np.isnan(row.ci_low) else
          f" [{row.ci_low * 100:+.1f} … {row.ci_high * 100:+.1f} %]")
    p = "" if np.isnan(row.p_value) else f", p={row.p_value:.3g}"
    return f"{row.change * 100:+.1f} %{ci}{p}"


def row_line(row, show_driver: bool) -> str:
    """One comparison row in words: which, both medians, change, CI, p
    (and, unresolved, the floor it stayed under)."""
    floor = getattr(row, "floor", np.nan)
    below = ("" if row.verdict != "unresolved" else
             f", below what this machine resolves (foreign CPU's spread "
             f"{metrics.get(row.metric).show(floor)} {metrics.get(row.metric).unit})")
    return (f"{group_label(row, show_driver)}: {value_text(row.metric, row.protocol, row.base_median)}"
            f" → {value_text(row.metric, row.protocol, row.cand_median)}, {change_text(row)}"
            f" (n {row.base_n}/{row.cand_n}){below}")


def outcome_line(row, show_driver: bool) -> str:
    driver = f" ({row.driver})" if show_driver else ""
    return (f"{row.scenario}{driver} {str(row.protocol).upper()} trials not ok: "
            f"{row.base_bad}/{row.base_n} → {row.cand_bad}/{row.cand_n}, "
            f"Fisher p={row.p_value:.3g}")


def several_drivers(c: Comparison) -> bool:
    return c.rows["driver"].nunique(dropna=False) > 1 if len(c.rows) else False


def header_lines(c: Comparison) -> list[str]:
    out = [f"base {c.base.run_id} ({c.base.path}) vs candidate {c.cand.run_id} ({c.cand.path})"]
    for side, names in (("base", c.only_base), ("candidate", c.only_cand)):
        if names:
            out.append(f"only in {side}, not compared: {', '.join(names)}")
    for d in c.differences:
        tag = {"incomparable": "INCOMPARABLE", "warn": "warning", "info": "note",
               "unregistered": "warning (unregistered key)"}[d.policy]
        out.append(f"{tag}: {d.line()}")
    return out


def lines(c: Comparison) -> list[str]:
    """The comparison in words, worst first."""
    show = several_drivers(c)
    out = header_lines(c)
    order = {"worse": 0, "better": 1, "unresolved": 2, "unchanged": 3, "insufficient": 4}
    for verdict, group in sorted(c.rows.groupby("verdict"), key=lambda g: order[g[0]]):
        out.append(f"{verdict}:")
        out += [f"  {row_line(r, show)}" for r in group.itertuples()]
    worse = c.outcomes[c.outcomes["verdict"] == "worse"]
    out += [f"worse: {outcome_line(r, show)}" for r in worse.itertuples()]
    return out


def as_json(c: Comparison) -> dict:
    return {"base": {"run_id": c.base.run_id, "path": str(c.base.path)},
            "candidate": {"run_id": c.cand.run_id, "path": str(c.cand.path)},
            "only_base": c.only_base, "only_candidate": c.only_cand,
            "differences": [d.__dict__ for d in c.differences],
            "incomparable": bool(c.incomparable),
            "rows": records(c.rows), "outcomes": records(c.outcomes)}


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-safe records: NaN becomes null, numpy scalars plain numbers."""
    return [{k: (None if isinstance(v, float) and np.isnan(v) else
                 v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in df.to_dict("records")]
