"""A store's runs as series: one per comparable class x scenario x driver x
protocol x metric, one point per run (the median of its trials' values,
with the values kept).

Runs are in one class when they ran on the same machine (hostname and CPU
model) and agree on every key the comparability registry calls
incomparable for that scenario (its definition, the suite's repeats,
duration, drivers, lane...).  Kernel, sysctls and tool versions may differ
inside a class: a change there is what a change point finds.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis import comparability, metrics
from bench.analysis.metrics import HEADLINE
from bench.analysis.rundata import RATIO

# What `trend` follows unless --metric says otherwise: the headline metrics
# and every metric a gate judges.
DEFAULT_METRICS = tuple(dict.fromkeys(
    [*HEADLINE, *(m.name for m in metrics.METRICS.values() if m.gate_pct is not None)]))


def class_key(head: dict, scenario: str, machine: str) -> str:
    """A short digest of what must be equal for two runs' figures of
    `scenario` to sit in one series."""
    view = comparability.view(head, {scenario})
    fixed = {k: v for k, v in view.items()
             if (entry := comparability.lookup(k)) is not None and entry.policy == "incomparable"}
    fixed["lane.kind"] = view.get("lane.kind", "host")
    text = json.dumps([machine, {k.replace(f"scenarios.{scenario}.", "scenario."): v
                                 for k, v in fixed.items()}], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class Series:
    key: tuple              # (class, scenario, driver, protocol, metric)
    machine: str
    runs: pd.DataFrame      # the store's run rows, oldest first, one per point
    values: list[np.ndarray] = field(default_factory=list)   # each run's trial values

    @property
    def scenario(self) -> str:
        return self.key[1]

    @property
    def driver(self) -> str:
        return self.key[2]

    @property
    def protocol(self) -> str:
        return self.key[3]

    @property
    def metric(self) -> str:
        return self.key[4]

    @property
    def medians(self) -> np.ndarray:
        return np.array([np.median(v) for v in self.values])

    def label(self) -> str:
        m = metrics.get(self.metric)
        proto = "MPTCP/TCP" if self.protocol == RATIO else self.protocol.upper()
        what = f"{m.label} ratio" if self.protocol == RATIO else f"{m.label} ({m.unit})"
        return f"{self.scenario} · {proto} · {self.driver} · {what}"

    def scale(self) -> float:
        return 1.0 if self.protocol == RATIO else metrics.get(self.metric).scale


def build(runs: pd.DataFrame, heads: dict[str, dict], samples: pd.DataFrame,
          scenarios=(), metric_names=DEFAULT_METRICS) -> list[Series]:
    """Every series of the store with at least one point, in a stable order
    (machine, scenario, driver, protocol, metric, class)."""
    if scenarios:
        samples = samples[samples["scenario"].isin(scenarios)]
    samples = samples[samples["metric"].isin(metric_names)]
    if samples.empty:
        return []
    order = {r: i for i, r in enumerate(runs["run_id"])}
    machine = dict(zip(runs["run_id"], runs["machine"]))
    classes = {(r, s): class_key(heads[r], s, machine[r])
               for r, s in samples[["run_id", "scenario"]].drop_duplicates().itertuples(index=False)}
    samples = samples.assign(cls=[classes[(r, s)] for r, s in zip(samples["run_id"], samples["scenario"])],
                             pos=samples["run_id"].map(order))
    by_run = runs.set_index("run_id")
    rank = {m: i for i, m in enumerate(metric_names)}
    out = []
    for key, g in samples.groupby(["cls", "scenario", "driver", "protocol", "metric"], sort=False):
        per_run = g.sort_values("pos").groupby("run_id", sort=False)["value"]
        ids = list(per_run.groups)
        ids.sort(key=order.__getitem__)
        out.append(Series(key, machine[ids[0]], by_run.loc[ids].reset_index(),
                          [per_run.get_group(r).to_numpy(float) for r in ids]))
    proto_rank = {"tcp": 0, "mptcp": 1, RATIO: 2}
    out.sort(key=lambda s: (s.machine, s.scenario, s.driver, proto_rank.get(s.protocol, 3),
                            rank.get(s.metric, 99), s.key[0]))
    return out
