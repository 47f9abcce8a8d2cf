"""bench gate --history STORE CAND: judge a candidate run against the
recent history of comparable runs instead of one base run.

For each scenario x driver x protocol (TCP, MPTCP) x gated metric of the
candidate, the history is the series of the same class (bench.history.series)
without the candidate, its last WINDOW runs, and of those the stable
segment: the runs since the last change point Otava finds there.  The
segment's per-run medians give a t prediction interval for one more run's
median, mean ± t(LEVEL, k-1) · sd · sqrt(1 + 1/k).  The candidate regressed
when its median lies outside that interval on the bad side and differs
from the segment's mean by more than the metric's floor.  More not-ok trials than
the segment's rate (Fisher's exact test, one-sided, p < OUTCOME_ALPHA) is a
regression too.  LEVEL and the floor come from a calibration on real runs
(docs/history.md, tests/tools/calibrate_history.py).  A change in the
trials' own CPU within the candidate's resolution floor (the foreign CPU's
spread, bench.analysis.resolution) is "unresolved", not a regression;
disturbed trials count neither as samples nor as outcomes.

Exit status as `gate`: 0 passed, 1 regressed, 2 nothing could be judged
(no comparable history, or too short) or bad input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bench.analysis import metrics, resolution, statistics
from bench.analysis.compare import UNCOUNTED
from bench.analysis.gate import GATED_PROTOCOLS, INCOMPARABLE, PASSED, REGRESSED
from bench.history import changepoints, series
from bench.history.store import machine_of

WINDOW = 50            # recent comparable runs looked at
MIN_RUNS = 5           # in the stable segment, to judge at all
LEVEL = 0.9999         # two-sided prediction level of the interval
FLOOR_PCT = 1.0        # and at least this far from the segment's median
OUTCOME_ALPHA = 0.01   # not-ok trials: Fisher's exact test, one-sided
BAD = ("fallback", "partial", "stalled", "failed")


def default_floors() -> dict[str, float | None]:
    """The floor per metric: the metrics the pairwise gate judges by default."""
    return {m.name: FLOOR_PCT if m.gate_pct is not None else None for m in metrics.METRICS.values()}


def parse_floors(specs: list[str]) -> dict[str, float | None]:
    from bench.analysis.gate import parse_thresholds
    given = parse_thresholds(specs)
    named = {s.partition("=")[0] for s in specs}
    return {m: (given[m] if m in named else v) for m, v in default_floors().items()}


@dataclass
class Judgement:
    scenario: str
    driver: str
    protocol: str
    metric: str
    runs: int                       # in the stable segment
    since: str | None               # run id the segment starts at
    center: float = math.nan
    low: float = math.nan
    high: float = math.nan
    cand: float = math.nan
    change: float = math.nan
    verdict: str = "not judged"     # regressed | within | better | unresolved | not judged
    resolves: float = math.nan      # own CPU: the candidate's resolution floor
    segment: list[str] = field(default_factory=list)   # the run ids it was judged against

    def line(self) -> str:
        m = metrics.get(self.metric)
        what = f"{self.scenario} {self.protocol.upper()} ({self.driver}) {m.label}"
        if self.verdict == "not judged":
            return (f"not judged: {what}: {self.runs} comparable run(s) in the history since its "
                    f"last change, {MIN_RUNS} needed")
        word = {"regressed": "REGRESSION", "within": "ok", "better": "better",
                "unresolved": "unresolved"}[self.verdict]
        below = ("" if self.verdict != "unresolved" else
                 f", below what this machine resolves (foreign CPU's spread "
                 f"{m.show(self.resolves)} {m.unit})")
        return (f"{word} {what}: {m.show(self.cand)} {m.unit} against the history's "
                f"{m.show(self.center)} [{m.show(self.low)}–{m.show(self.high)}] "
                f"({self.runs} runs since {self.since}), {self.change * 100:+.1f} %{below}")


@dataclass
class HistoryGate:
    status: int
    lines: list[str]
    judgements: list[Judgement] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    information: list[str] = field(default_factory=list)   # kernel or lock changes

    def as_json(self) -> dict:
        return {"status": ("passed", "regressed", "incomparable")[self.status],
                "exit": self.status, "level": LEVEL, "window": WINDOW, "min_runs": MIN_RUNS,
                "judgements": [j.__dict__ for j in self.judgements],
                "outcomes": self.outcomes, "information": self.information, "lines": self.lines}


def interval(medians: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """(center, low, high): the t prediction interval for one more run's
    median from the segment's per-run medians, mean ± t · sd · √(1 + 1/k).
    The sample sd, not a robust one: MPTCP's per-run medians are skewed
    (a few runs 2 % low), and a MAD-based interval false-alarmed on 3 of 20
    real A/A runs."""
    from scipy.stats import t
    k = len(medians)
    center = float(np.mean(medians))
    spread = float(np.std(medians, ddof=1))
    half = float(t.ppf(0.5 + level / 2, k - 1)) * spread * math.sqrt(1 + 1 / k)
    return center, center - half, center + half


def stable_segment(s: series.Series) -> tuple[np.ndarray, int]:
    """The last WINDOW runs' medians from the last change point on, and the
    position (in the series) where that segment starts."""
    start = max(0, len(s.values) - WINDOW)
    medians = s.medians[start:]
    found = changepoints.detect(medians, s.values[start:], s.metric)
    if found:
        start += found[-1].index
    return s.medians[start:], start


def judge_metric(s: series.Series | None, cand_values: np.ndarray, floor: float, key: tuple,
                 level: float = LEVEL, resolves: float = math.nan) -> Judgement:
    scenario, driver, protocol, metric = key
    if s is None:
        return Judgement(scenario, driver, protocol, metric, 0, None)
    medians, start = stable_segment(s)
    ids = [str(r) for r in s.runs["run_id"].iloc[start:]]
    j = Judgement(scenario, driver, protocol, metric, len(medians), ids[0], segment=ids)
    if len(medians) < MIN_RUNS:
        return j
    j.center, j.low, j.high = interval(medians, level)
    j.cand, j.resolves = float(np.median(cand_values)), resolves
    j.change = j.cand / j.center - 1 if j.center else math.nan
    outside = j.cand < j.low or j.cand > j.high
    bad_way = metrics.worse(metric, j.change)
    if outside and abs(j.cand - j.center) < resolves:
        j.verdict = "unresolved"
    elif outside and bad_way and abs(j.change) * 100 > floor:
        j.verdict = "regressed"
    elif outside and not bad_way:
        j.verdict = "better"
    else:
        j.verdict = "within"
    return j


def evaluate(store, cand, floors: dict | None = None, level: float = LEVEL) -> HistoryGate:
    """Judge candidate run `cand` (a RunData) against `store`."""
    floors = floors if floors is not None else default_floors()
    runs = store.runs()
    runs = runs[runs["run_id"] != cand.run_id].reset_index(drop=True)
    heads = store.heads()
    gated = [m for m, f in floors.items() if f is not None]
    hist = series.build(runs, heads, store.samples().query("run_id != @cand.run_id"),
                        metric_names=gated)
    machine = machine_of(cand.metadata)
    index = {s.key: s for s in hist}
    resolves = {tuple(r[:4]): r[4] for r in resolution.spreads(cand.trials).itertuples(index=False)}
    samples = cand.samples
    samples = samples[samples["protocol"].isin(GATED_PROTOCOLS) & samples["metric"].isin(gated)]
    judgements, classes = [], {}
    for (scenario, driver, protocol, metric), g in samples.groupby(
            ["scenario", "driver", "protocol", "metric"], observed=True, sort=False):
        cls = classes.setdefault(scenario, series.class_key(cand.head, scenario, machine))
        key = (str(scenario), str(driver), str(protocol), str(metric))
        judgements.append(judge_metric(index.get((cls, *key)), g["value"].to_numpy(float),
                                       floors[metric], key, level, resolves.get(key, math.nan)))
    outcomes = _outcomes(store, cand, judgements)
    gate = _verdict(judgements, outcomes, len(runs))
    gate.information = environment_changes(runs, heads, judgements, cand)
    gate.lines[-1:-1] = gate.information
    return gate


# What a run ran with that moves on purpose: said when it changed across the
# judged history or to the candidate, as information, never a verdict.
ENVIRONMENT_KEYS = ((("kernel", "release"), "kernel release"),
                    (("environment", "lock"), "locked environment (requirements.lock)"))


def environment_changes(runs, heads: dict, judgements: list[Judgement], cand) -> list[str]:
    judged = {r for j in judgements for r in j.segment}
    order = [str(r) for r in runs["run_id"] if str(r) in judged]
    metas = [(r, (heads.get(r) or {}).get("metadata") or {}) for r in order]
    metas.append((f"the candidate {cand.run_id}", cand.metadata))
    lines = []
    for path, label in ENVIRONMENT_KEYS:
        seen = [(r, _dig(m, path)) for r, m in metas]
        for (before, a), (after, b) in zip(seen, seen[1:]):
            if a != b:
                lines.append(f"information: the {label} changed between {before} and {after}: "
                             f"{_short(a)} → {_short(b)}")
    return lines


def _dig(meta: dict, path: tuple[str, ...]):
    for k in path:
        meta = meta.get(k) if isinstance(meta, dict) else None
    return meta


def _short(value) -> str:
    return "(not recorded)" if value is None else str(value)[:19]


def _outcomes(store, cand, judgements) -> list[dict]:
    """Not-ok trial counts of the candidate against the runs of each judged
    group's segment (its machine and class only)."""
    segments = {}
    for j in judgements:
        if j.verdict != "not judged":
            segments.setdefault((j.scenario, j.driver, j.protocol), j.segment)
    if not segments:
        return []
    hist = store.outcomes()
    trials = cand.trials
    out = []
    for (scenario, driver, protocol), ids in segments.items():
        h = hist[hist["run_id"].isin(ids) & (hist["scenario"] == scenario)
                 & (hist["driver"] == driver) & (hist["protocol"] == protocol)]
        c = trials[(trials["scenario"] == scenario) & (trials["driver"].fillna("native") == driver)
                   & (trials["protocol"] == protocol)]
        h, c = h[~h["status"].isin(UNCOUNTED)], c[~c["status"].isin(UNCOUNTED)]
        h_bad, c_bad = int(h["status"].isin(BAD).sum()), int(c["status"].isin(BAD).sum())
        p = statistics.more_bad_p(c_bad, len(c), h_bad, len(h))
        out.append({"scenario": scenario, "driver": driver, "protocol": protocol,
                    "history_bad": h_bad, "history_n": len(h), "cand_bad": c_bad,
                    "cand_n": len(c), "p_value": p, "worse": p < OUTCOME_ALPHA})
    return out


def _verdict(judgements: list[Judgement], outcomes: list[dict], n_runs: int) -> HistoryGate:
    judged = [j for j in judgements if j.verdict != "not judged"]
    lines = [j.line() for j in judgements]
    lines += [f"REGRESSION {o['scenario']} {o['protocol'].upper()} ({o['driver']}): "
              f"{o['cand_bad']} of {o['cand_n']} trials not ok against {o['history_bad']} of "
              f"{o['history_n']} in the history (p = {o['p_value']:.3g})" for o in outcomes if o["worse"]]
    if not judged:
        lines.append(f"cannot judge: no gated metric has {MIN_RUNS} comparable runs in the history "
                     f"({n_runs} run(s) in the store); add runs of the same suite on this machine "
                     "with `bench history add`")
        return HistoryGate(INCOMPARABLE, lines, judgements, outcomes)
    bad = sum(j.verdict == "regressed" for j in judged) + sum(o["worse"] for o in outcomes)
    status = REGRESSED if bad else PASSED
    lines.append(f"gate {'FAILED' if bad else 'passed'}: {bad} regression(s) in {len(judged)} "
                 f"metric(s) judged against the history and {len(outcomes)} trial-outcome check(s)")
    return HistoryGate(status, lines, judgements, outcomes)

