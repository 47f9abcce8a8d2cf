"""bench gate: pass or fail a candidate run against a base run.

A metric regressed when its change is significant (Mann-Whitney U, p <
compare.ALPHA) in the bad direction AND larger than its threshold (default
per metric in bench.analysis.metrics, `--max-regression METRIC=PCT` to override,
`METRIC=off` to stop gating it).  More not-ok trials (fallback, partial,
stalled, failed) than the base, significant by Fisher's exact test, is a
regression too.  Only TCP and MPTCP rows are gated; MPTCP/TCP ratios are
shown by `compare`.  Disturbed trials are left out of both, and a change in
the trials' own CPU below what the machine resolves is listed, not judged
(bench.analysis.compare).

Exit status: 0 nothing regressed, 1 something regressed, 2 the runs
cannot be compared (incomparable metadata unless forced, nothing in common,
or bad input).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from bench.analysis import compare as cmp
from bench.analysis.metrics import default_thresholds
from bench.errors import InputError

PASSED, REGRESSED, INCOMPARABLE = 0, 1, 2
GATED_PROTOCOLS = ("tcp", "mptcp")


def parse_thresholds(specs: list[str]) -> dict[str, float | None]:
    """The defaults with `METRIC=PCT` / `METRIC=off` overrides applied."""
    out = default_thresholds()
    for spec in specs:
        name, sep, pct = spec.partition("=")
        if not sep or name not in out:
            raise InputError(f"--max-regression {spec!r}: expected METRIC=PCT with METRIC one of "
                             f"{', '.join(out)}")
        if pct.strip().lower() == "off":
            out[name] = None
            continue
        try:
            value = float(pct.rstrip("%"))
        except ValueError:
            value = -1.0
        if not 0 <= value < float("inf"):
            raise InputError(f"--max-regression {spec!r}: the threshold must be a percentage "
                             "≥ 0 (e.g. goodput_bps=5) or 'off'")
        out[name] = value
    return out


@dataclass
class GateResult:
    status: int
    lines: list[str]
    regressions: list[dict] = field(default_factory=list)

    def as_json(self, c: cmp.Comparison, thresholds: dict) -> dict:
        return {"status": ("passed", "regressed", "incomparable")[self.status],
                "exit": self.status, "thresholds": thresholds, "alpha": cmp.ALPHA,
                "regressions": self.regressions, "lines": self.lines,
                "comparison": cmp.as_json(c)}


def evaluate(c: cmp.Comparison, thresholds: dict, force: bool = False) -> GateResult:
    head = cmp.header_lines(c)
    if c.incomparable and not force:
        return GateResult(INCOMPARABLE, head + [
            "cannot compare: the runs differ in what was measured (above); pass --force to "
            "compare anyway"])
    if c.rows.empty and c.outcomes.empty:
        return GateResult(INCOMPARABLE, head + ["cannot compare: no scenario and metric in common"])
    show = cmp.several_drivers(c)
    gated = _gated(c.rows, thresholds)
    bad = gated[gated["regressed"]]
    worse_outcomes = c.outcomes[c.outcomes["verdict"] == "worse"]
    lines = head + [f"REGRESSION {cmp.row_line(r, show)}; threshold {r.threshold:g} %"
                    for r in bad.itertuples()]
    lines += [f"REGRESSION {cmp.outcome_line(r, show)}" for r in worse_outcomes.itertuples()]
    within = gated[(gated["verdict"] == "worse") & ~gated["regressed"]]
    lines += [f"within threshold: {cmp.row_line(r, show)}; threshold {r.threshold:g} %"
              for r in within.itertuples()]
    lines += [f"unresolved: {cmp.row_line(r, show)}"
              for r in gated[gated["verdict"] == "unresolved"].itertuples()]
    unjudged = gated[gated["verdict"] == "insufficient"]
    lines += [f"not judged: {cmp.group_label(r, show)} has {r.base_n} vs {r.cand_n} ok trials, too "
              f"few for p < {cmp.ALPHA:g} (4 per side at least)" for r in unjudged.itertuples()]
    regressions = cmp.records(bad.drop(columns=["regressed"])) + \
        cmp.records(worse_outcomes.assign(metric="not_ok_trials"))
    status = REGRESSED if regressions else PASSED
    lines.append(f"gate {'FAILED' if status else 'passed'}: {len(regressions)} regression(s) in "
                 f"{len(gated)} gated metric(s) and {len(c.outcomes)} trial-outcome check(s)")
    return GateResult(status, lines, regressions)


def _gated(rows: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    rows = rows[rows["protocol"].isin(GATED_PROTOCOLS)].copy()
    rows["threshold"] = rows["metric"].map(thresholds)
    rows = rows[rows["threshold"].notna()]
    rows["regressed"] = (rows["verdict"] == "worse") & \
        (rows["change"].abs() * 100 > rows["threshold"])
    return rows
