"""Calibrate `bench gate --history`: false alarms on noise and detection of
a real 5 % goodput loss, side by side with the pairwise `bench gate` on the
same runs.

    sudo .venv/bin/python tests/tools/calibrate_gate.py record DIR --runs 20
    .venv/bin/python tests/tools/calibrate_history.py DIR [--draws 50]

`record` (calibrate_gate.py) makes real runs of the `gate` suite's shape in
two conditions, alternating: A = 2 x 50 Mbit/s, B = 2 x 47.5 Mbit/s.
This script rebuilds the history store DIR/store from the A runs (`bench
history add`), then, with the history gate's defaults and a sweep of its
level and floor:

  false alarms  each A run as the candidate against the store (the gate
                leaves the candidate's own run out of its history): the run
                itself, and `draws` pseudo-runs resampled from its repeats;
                also with only the runs before it as history (as CI sees it);
  detection     each B run as the candidate, and `draws` pseudo-runs of it.
                Its scenario definition (47.5 Mbit/s) is replaced by the A
                runs' so that it falls in their series: the capacity loss
                stands for a regression of the code or kernel;
  smaller loss  A candidates with goodput scaled by 0.98 and 0.97.

The pairwise gate (default thresholds) is applied to the same candidates
against a base A run (every other A run for real runs, one drawn for
pseudo-runs).  Numbers in docs/history.md.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibrate_gate  # noqa: E402

from bench.analysis import compare, gate, metrics  # noqa: E402
from bench.analysis.rundata import RunData  # noqa: E402
from bench.history import gate as hgate  # noqa: E402
from bench.history.store import Store  # noqa: E402

LEVELS = (0.99, 0.995, 0.999, 0.9999)
FLOORS = (0.5, 1.0, 2.0)


def build_store(out: Path, runs: list[RunData]) -> Path:
    path = out / "store"
    with Store(path, create=True) as s:
        for r in runs:
            s.add(r)
    return path


def relabelled(run: RunData, like: RunData, scale: float = 1.0) -> RunData:
    """`run` with `like`'s scenario definitions (so it joins like's series)
    and its goodput scaled by `scale`; its run id stays (the gate leaves a
    candidate's own run out of the history)."""
    trials = [{**t, "goodput_bps": t["goodput_bps"] * scale}
              if scale != 1.0 and isinstance(t.get("goodput_bps"), float) else t
              for t in run.doc["trials"]]
    return RunData({**run.doc, "scenarios": like.doc["scenarios"], "trials": trials})


def _history_flags(store: Store, cand: RunData) -> dict | None:
    """Whether the history gate fails `cand` under each (level, floor) of
    the sweep; None when it cannot judge.  One evaluation: the interval's
    half-width scales with t's quantile (the same segment), the floor
    applies to the change."""
    from scipy.stats import t
    floors = {m: (0.0 if f is not None else None) for m, f in hgate.default_floors().items()}
    result = hgate.evaluate(store, cand, floors, hgate.LEVEL)
    if result.status == gate.INCOMPARABLE:
        return None
    outcome = any(o["worse"] for o in result.outcomes)
    judged = [j for j in result.judgements if j.verdict != "not judged"]
    flags = {}
    for level, floor in itertools.product(LEVELS, FLOORS):
        fired = outcome
        for j in judged:
            k = j.runs
            half = (j.high - j.center) * t.ppf(0.5 + level / 2, k - 1) / t.ppf(0.5 + hgate.LEVEL / 2, k - 1)
            outside = abs(j.cand - j.center) > half
            fired |= outside and metrics.worse(j.metric, j.change) and abs(j.change) * 100 > floor
        flags[(level, floor)] = bool(fired)
    return flags


def _pairwise_fires(base: RunData, cand: RunData) -> bool:
    result = gate.evaluate(compare.compare(base, cand), gate.default_thresholds(), force=True)
    return bool(result.status)


def _rate(flags: list) -> str:
    judged = [f for f in flags if f is not None]
    if not judged:
        return "not judged"
    return f"{np.mean(judged):.1%} ({sum(judged)}/{len(judged)})"


def analyse(out: Path, draws: int, seed: int = 1) -> None:
    a = calibrate_gate._runs(out, "a")
    b = calibrate_gate._runs(out, "b")
    repeats = len({t["repeat"] for t in a[0].doc["trials"]})
    print(f"{len(a)} A runs, {len(b)} B runs, {repeats} repeats each; store rebuilt at "
          f"{build_store(out, a)}")
    rng = np.random.default_rng(seed)
    store = Store(out / "store")
    cases = {
        "A/A, the real run": [(r, r) for r in a],
        f"A/A, {draws} pseudo-runs per run": [
            (r, calibrate_gate.pseudo_run(r, rng, repeats)) for r in a for _ in range(draws)],
        "5 % loss (B), the real run": [(None, relabelled(r, a[0])) for r in b],
        f"5 % loss (B), {draws} pseudo-runs per run": [
            (None, relabelled(calibrate_gate.pseudo_run(r, rng, repeats), a[0]))
            for r in b for _ in range(draws)],
        "2 % loss (A x 0.98), the real run": [(r, relabelled(r, a[0], 0.98)) for r in a],
        "3 % loss (A x 0.97), the real run": [(r, relabelled(r, a[0], 0.97)) for r in a],
    }
    for name, pairs in cases.items():
        print(f"\n{name}: share of candidates failing")
        flags = [_history_flags(store, cand) for _, cand in pairs]
        for level, floor in itertools.product(LEVELS, FLOORS):
            mark = " (default)" if (level, floor) == (hgate.LEVEL, hgate.FLOOR_PCT) else ""
            print(f"  history level {level:g}, floor {floor:g} %: "
                  f"{_rate([f and f[(level, floor)] if f else None for f in flags])}{mark}")
        pw = []
        for own, cand in pairs:
            bases = [x for x in a if own is None or x.run_id != own.run_id]
            base = bases[rng.integers(len(bases))]
            pw.append(_pairwise_fires(base, cand))
        print(f"  pairwise gate (defaults), one other A run as base: {_rate(pw)}")
    # As CI sees it: the history is the runs before the candidate.
    print("\nA/A with only earlier runs as history (defaults):")
    flags = []
    for i in range(hgate.MIN_RUNS, len(a)):
        with tempfile.TemporaryDirectory() as tmp, Store(tmp, create=True) as s:
            for r in a[:i]:
                s.add(r)
            f = _history_flags(s, a[i])
            flags.append(f[(hgate.LEVEL, hgate.FLOOR_PCT)] if f else None)
    print(f"  {_rate(flags)}")
    pw = [_pairwise_fires(a[i - 1], a[i]) for i in range(1, len(a))]
    print(f"  pairwise gate, the previous run as base: {_rate(pw)}")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the directory calibrate_gate.py record wrote")
    ap.add_argument("--draws", type=int, default=50, help="pseudo-runs per real run")
    args = ap.parse_args()
    analyse(args.out, args.draws)


if __name__ == "__main__":
    main()
