"""bench trend: every series of a history store with its change points."""
from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import metrics
from bench.analysis.rundata import RATIO
from bench.history import changepoints, series
from bench.history.store import Store


@dataclass
class Trend:
    series: series.Series
    changes: list[changepoints.ChangePoint]
    distinct: str = ""      # what sets its class apart from another of the same label

    def run_label(self, pos: int) -> str:
        r = self.series.runs.iloc[pos]
        rev = (r["git_revision"] or "?")[:10]
        return f"{r['run_id']} (rev {rev}, kernel {r['kernel'] or '?'})"

    def show(self, value: float) -> str:
        if self.series.protocol == RATIO:
            return f"×{value:.3f}"
        m = metrics.get(self.series.metric)
        return f"{m.show(value)} {m.unit}"

    def lines(self) -> list[str]:
        s = self.series
        med = s.medians
        where = f"{s.machine}, {self.distinct}" if self.distinct else s.machine
        head = (f"{s.label()} — {len(med)} run(s) on {where}, last {self.show(med[-1])}; "
                + (f"{len(self.changes)} change point(s)" if len(med) >= changepoints.MIN_POINTS
                   else f"too few runs for change points ({changepoints.MIN_POINTS} needed)"))
        out = [head]
        for c in self.changes:
            out.append(f"  change at {self.run_label(c.index)}, after {self.run_label(c.index - 1)}: "
                       f"{c.change * 100:+.1f} % [{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}] "
                       f"{c.direction} (p = {c.pvalue:.2g}; {c.before[1] - c.before[0]} runs "
                       f"before, {c.after[1] - c.after[0]} after)")
        return out

    def as_json(self) -> dict:
        s = self.series
        return {"label": s.label(), "class": s.key[0], "setting": s.setting, "distinct": self.distinct,
                "machine": s.machine, "scenario": s.scenario,
                "driver": s.driver, "protocol": s.protocol, "metric": s.metric,
                "runs": [{"run_id": r, "median": float(m), "n": len(v)}
                         for r, m, v in zip(s.runs["run_id"], s.medians, s.values)],
                "change_points": [{**c.__dict__, "run_id": s.runs["run_id"].iloc[c.index],
                                   "previous_run_id": s.runs["run_id"].iloc[c.index - 1]}
                                  for c in self.changes]}


def trends(store: Store, scenarios=(), metric_names=series.DEFAULT_METRICS) -> list[Trend]:
    runs = store.runs()
    found = series.build(runs, store.heads(), store.samples(), scenarios, metric_names)
    distinct = series.distinctions(found)
    return [Trend(s, changepoints.detect(s.medians, s.values, s.metric), distinct.get(s.key[0], ""))
            for s in found]
