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


def class_view(head: dict, scenario: str) -> dict:
    """What must be equal (besides the machine) for two runs' figures of
    `scenario` to sit in one series: the registry's incomparable keys."""
    view = comparability.view(head, {scenario})
    fixed = {k.replace(f"scenarios.{scenario}.", "scenario."): v for k, v in view.items()
             if (entry := comparability.lookup(k)) is not None and entry.policy == "incomparable"}
    fixed["lane.kind"] = view.get("lane.kind", "host")
    return fixed


def class_key(head: dict, scenario: str, machine: str) -> str:
    """A short digest of the machine and class_view()."""
    text = json.dumps([machine, class_view(head, scenario)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def distinctions(found: list[Series]) -> dict[str, str]:
    """For classes that share a machine and scenario: class -> the settings
    that set it apart ("scenario.definition.links.0.rate_mbit=47.5"), so
    that two series with the same label can be told apart."""
    views: dict[tuple, dict[str, dict]] = {}
    for s in found:
        views.setdefault((s.machine, s.scenario), {})[s.key[0]] = s.setting
    out = {}
    for classes in views.values():
        if len(classes) < 2:
            continue
        keys = sorted(set().union(*classes.values()))
        differ = [k for k in keys if len({json.dumps(v.get(k), default=str) for v in classes.values()}) > 1]
        for cls, view in classes.items():
            out[cls] = ", ".join(f"{k.removeprefix('scenario.definition.')}="
                                 f"{comparability.plain(view.get(k))}" for k in differ)
    return out


@dataclass
class Series:
    key: tuple              # (class, scenario, driver, protocol, metric)
    machine: str
    runs: pd.DataFrame      # the store's run rows, oldest first, one per point
    values: list[np.ndarray] = field(default_factory=list)   # each run's trial values
    setting: dict = field(default_factory=dict)              # class_view() of the class

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
    pairs = samples[["run_id", "scenario"]].drop_duplicates().itertuples(index=False)
    views = {(r, s): class_view(heads[r], s) for r, s in pairs}
    classes = {(r, s): class_key(heads[r], s, machine[r]) for r, s in views}
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
                          [per_run.get_group(r).to_numpy(float) for r in ids],
                          views[(ids[0], key[1])]))
    proto_rank = {"tcp": 0, "mptcp": 1, RATIO: 2}
    out.sort(key=lambda s: (s.machine, s.scenario, s.driver, proto_rank.get(s.protocol, 3),
                            rank.get(s.metric, 99), s.key[0]))
    return out
