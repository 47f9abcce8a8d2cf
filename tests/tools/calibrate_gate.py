"""Calibrate `bench gate`: how often it fires on noise, how often it catches
a real 5 % goodput loss.

    sudo .venv/bin/python tests/tools/calibrate_gate.py record /tmp/calib --runs 5
    .venv/bin/python tests/tools/calibrate_gate.py analyse /tmp/calib [--draws 2000]

`record` makes real runs of one shaped scenario (tests/data/calibration:
calib-2x, 2 x 50 Mbit/s, the `gate` suite's 6 paired repeats of 3 s) in
two conditions, alternating so that drifting machine load falls on both:
A = 50 Mbit/s links, B = 47.5 Mbit/s links (a real 5 % capacity loss).

`analyse` resamples the real trials into pseudo-runs and applies the gate
with its default thresholds:
  false alarms  base and candidate from two *different* A runs (so
                run-to-run drift is included), each a pseudo-run of 6
                repeats drawn with replacement (TCP and MPTCP of a repeat
                stay paired); the share of draws where the gate fails;
  detection     base from an A run, candidate from a B run, drawn alike;
                the share of draws where the gate fails on goodput.
It also applies the gate directly to every real A/A and A/B pair of runs.

Measured (2026-11-29, kernel 6.18.44, 2 vCPU shared with other jobs; 5 + 5
runs, 2000 draws each, p < 0.05):
  goodput 3 %, system CPU not gated (the defaults): A/A 1.2 % false alarms
    (real pairs 0 / 20), the 5 % loss caught in 100 % (real pairs 25 / 25);
  goodput 2 %: A/A 6.9 %; goodput 4 %: A/A 0.1 %, caught 99.8 %;
  with system CPU/GB gated at 15 %: A/A 31.5 % (at 100 %: 19.4 %) — the
    same build measured 75 to 282 s/GB between runs.
With --kind rr (record: only condition A, the default suite's `rr`;
analyse: detection by scaling the candidate's transactions 1.1/1.2/1.3x
slower, since there is no netem here to add a known delay), 8 runs, 400
draws: at 20 % latency p50 / transactions/s / CPU per transaction
false-alarm 1.8 / 1.8 / 1.0 % each, 2.8 % together (real pairs 0 / 56), and
catch a 30 % slowdown in 93.5 % of draws; at 10 % (the old defaults, p99
at 20 % too) they false-alarmed 18.8 % together (real pairs 6 / 56).
Quoted in bench/metrics.py and README.md ("Calibration").
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONDITIONS = {"bulk": {"a": HERE.parent / "data/calibration/link-50.toml",
                       "b": HERE.parent / "data/calibration/link-47_5.toml"},
              # No netem here to add a known delay: latency detection is
              # measured on real A runs whose candidate side is scaled.
              "rr": {"a": HERE.parent / "data/calibration/rr.toml"}}
RUN_TIMEOUT_S = 240


def _run_once(scenario_file: Path, out: Path) -> int:
    """One real run; on a hang it is ended with SIGTERM (the orchestrator
    then removes its namespaces), never SIGKILL."""
    cmd = [sys.executable, "-m", "bench", "run", "--scenario-file", str(scenario_file),
           "--suite", "calib", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        return proc.wait()


def record(out: Path, runs: int, kind: str) -> None:
    for i in range(runs):
        for cond, file in CONDITIONS[kind].items():
            for attempt in range(3):
                rc = _run_once(file, out / cond)
                print(f"run {i} condition {cond} attempt {attempt}: exit {rc}", flush=True)
                if rc == 0:
                    break


def _runs(out: Path, cond: str) -> list:
    from bench.analysis import summary
    dirs = sorted(p for p in (out / cond).iterdir() if p.is_dir() and not p.is_symlink())
    runs = [summary.open_run(d) for d in dirs]
    return [r for r in runs if r.doc["state"] == "complete"]


def pseudo_run(run, rng: np.random.Generator, repeats: int, slower: float = 1.0):
    """A pseudo-run: `repeats` repeats of `run` drawn with replacement,
    each keeping its TCP and MPTCP trials together, renumbered.  `slower`
    > 1 makes every transaction that much slower (latencies and CPU per
    transaction times it, transactions/s divided by it): a known latency
    regression carried by real noise."""
    from bench.analysis.summary import RunData
    by_repeat = {}
    for t in run.doc["trials"]:
        by_repeat.setdefault(t["repeat"], []).append(t)
    keys = sorted(by_repeat)
    trials = []
    for new, old in enumerate(rng.choice(keys, size=repeats, replace=True)):
        trials += [{**t, "repeat": new, **_slowed(t, slower)} for t in by_repeat[old]]
    return RunData({**run.doc, "trials": trials}, run.path)


def _slowed(t: dict, factor: float) -> dict:
    if factor == 1.0:
        return {}
    out = {k: v * factor for k, v in t.items()
           if (k.startswith("latency_us_") or k == "cpu_system_us_per_transaction")
           and isinstance(v, (int, float))}
    if isinstance(t.get("transactions_per_s"), (int, float)):
        out["transactions_per_s"] = t["transactions_per_s"] / factor
    return out


def _gate(base, cand) -> tuple[bool, bool]:
    """(failed at all, failed on goodput) with the default thresholds;
    metadata differences (the link rate) are forced past, as they must be."""
    from bench.analysis import compare, gate
    result = gate.evaluate(compare.compare(base, cand), gate.default_thresholds(), force=True)
    goodput = any(r.get("metric") == "goodput_bps" for r in result.regressions)
    return bool(result.status), goodput


def _gated_rows(base, cand, swept):
    """The rows a gate could fail on: per protocol and metric the change,
    p and whether it went the bad way; plus whether trial outcomes got worse."""
    from bench.analysis import compare, metrics
    c = compare.compare(base, cand)
    rows = c.rows[c.rows["protocol"].isin(["tcp", "mptcp"]) & c.rows["metric"].isin(swept)]
    worse = [metrics.worse(m, ch) for m, ch in zip(rows["metric"], rows["change"])]
    ok_n = [compare.min_p(int(a), int(b)) < compare.ALPHA for a, b in
            zip(rows["base_n"], rows["cand_n"])]
    return (rows.assign(worse=worse, judged=ok_n)[["metric", "change", "p_value", "worse", "judged"]],
            bool((c.outcomes["verdict"] == "worse").any()))


SWEEP = {"goodput_bps": (2.0, 3.0, 4.0), "cpu_system_s_per_gb": (15.0, 25.0, 50.0, 100.0, None)}
# Latency metrics, each swept on its own (thresholds in %, None = not gated).
RR_SWEEP = {"latency_us_p50": (10.0, 15.0, 20.0, 25.0), "latency_us_p99": (20.0, 30.0, 40.0, 50.0),
            "transactions_per_s": (10.0, 15.0, 20.0, 25.0),
            "cpu_system_us_per_transaction": (15.0, 20.0, 25.0)}
RR_SLOWER = (1.10, 1.20, 1.30)   # latency regressions the detection draws carry


def _fires(rows, outcome_worse: bool, thresholds: dict, alpha: float) -> bool:
    thr = rows["metric"].map(thresholds)
    bad = rows["judged"] & rows["worse"] & (rows["p_value"] < alpha) & thr.notna() & \
        (rows["change"].abs() * 100 > thr.fillna(float("inf")))
    return bool(bad.any()) or outcome_worse


def _sweep(name: str, draws: list) -> None:
    """Share of draws the gate fails for each setting of the rule."""
    print(f"{name}: share of pseudo-run pairs failing, by goodput / system CPU threshold (%)")
    for alpha in (0.05, 0.01):
        cells = []
        for g in SWEEP["goodput_bps"]:
            for cpu in SWEEP["cpu_system_s_per_gb"]:
                rate = np.mean([_fires(r, o, {"goodput_bps": g, "cpu_system_s_per_gb": cpu}, alpha)
                                for r, o in draws])
                cells.append(f"{g:g}/{'off' if cpu is None else f'{cpu:g}'}: {rate:.1%}")
        print(f"  alpha {alpha:g}: " + ", ".join(cells))


def _rr_sweep(name: str, draws: list) -> None:
    """Share of draws failing on each latency metric alone, per threshold,
    and with all of them at their defaults (outcomes included)."""
    from bench.analysis import gate
    defaults = {m: v for m, v in gate.default_thresholds().items() if m in RR_SWEEP}
    print(f"{name}: share of pseudo-run pairs failing")
    for alpha in (0.05, 0.01):
        for metric, values in RR_SWEEP.items():
            cells = [f"{v:g} %: {np.mean([_fires(r, False, {metric: v}, alpha) for r, _ in draws]):.1%}"
                     for v in values]
            print(f"  alpha {alpha:g} {metric}: " + ", ".join(cells))
        rate = np.mean([_fires(r, o, defaults, alpha) for r, o in draws])
        print(f"  alpha {alpha:g} all defaults {defaults}: {rate:.1%}")


def analyse_rr(out: Path, draws: int, seed: int = 1) -> None:
    a = _runs(out, "a")
    repeats = len({t["repeat"] for t in a[0].doc["trials"]})
    print(f"{len(a)} runs of {repeats} repeats")
    _describe(a, "A", RR_SWEEP)
    rng = np.random.default_rng(seed)
    aa = list(itertools.permutations(a, 2))
    for slower in (1.0, *RR_SLOWER):
        name = "A/A false alarms" if slower == 1.0 else f"detection of x{slower:g} slower"
        rows = []
        for _ in range(draws):
            x, y = aa[rng.integers(len(aa))]
            rows.append(_gated_rows(pseudo_run(x, rng, repeats),
                                    pseudo_run(y, rng, repeats, slower), RR_SWEEP))
        _rr_sweep(f"{name} ({draws} draws)", rows)
    results = [_gate(x, y) for x, y in aa]
    print(f"real A/A with the default thresholds: gate failed in {sum(f for f, _ in results)}/"
          f"{len(results)} real run pairs")


def analyse(out: Path, draws: int, seed: int = 1) -> None:
    a, b = _runs(out, "a"), _runs(out, "b")
    repeats = len({t["repeat"] for t in a[0].doc["trials"]})
    print(f"{len(a)} A runs, {len(b)} B runs, {repeats} repeats each")
    _describe(a, "A"), _describe(b, "B")
    rng = np.random.default_rng(seed)
    aa = [(x, y) for x, y in itertools.permutations(a, 2)]
    ab = [(x, y) for x in a for y in b]
    for name, pairs in (("A/A false alarms", aa), ("A/B detection", ab)):
        rows = []
        for _ in range(draws):
            x, y = pairs[rng.integers(len(pairs))]
            rows.append(_gated_rows(pseudo_run(x, rng, repeats), pseudo_run(y, rng, repeats), SWEEP))
        _sweep(f"{name} ({draws} draws)", rows)
    for name, pairs in (("real A/A", aa), ("real A/B", ab)):
        results = [_gate(x, y) for x, y in pairs]
        print(f"{name} with the default thresholds: gate failed in {sum(f for f, _ in results)}/"
              f"{len(results)} real run pairs (on goodput: {sum(g for _, g in results)})")


def _describe(runs, label: str, metrics=("goodput_bps", "cpu_system_s_per_gb")) -> None:
    from bench.analysis import summary
    for r in runs:
        d = summary.describe(r.trials)
        d = d[d["metric"].isin(list(metrics))]
        cells = [f"{x.protocol} {x.metric.split('_')[0]} {x.median:.4g} (rel IQR {x.rel_iqr:.1%})"
                 for x in d.itertuples() if x.protocol != "mptcp/tcp"]
        print(f"  {label} {r.run_id}: " + "; ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--runs", type=int, default=5)
    an = sub.add_parser("analyse")
    an.add_argument("out", type=Path)
    an.add_argument("--draws", type=int, default=2000)
    for p in (rec, an):
        p.add_argument("--kind", choices=sorted(CONDITIONS), default="bulk",
                       help="bulk: goodput on shaped links (A/B real); rr: latency (A only)")
    args = ap.parse_args()
    args.out = args.out.resolve()
    os.chdir(HERE.parent.parent)
    if args.cmd == "record":
        record(args.out, args.runs, args.kind)
    elif args.kind == "rr":
        analyse_rr(args.out, args.draws)
    else:
        analyse(args.out, args.draws)


if __name__ == "__main__":
    main()
