"""Choosing a driver's engine modes per scenario and protocol from a short
calibration at the scenario's start (a suite's driver_modes.candidates).

A mode that is best on one machine can be the worst on another (SO_RCVLOWAT
took single-link MPTCP from 6.8 to 2.2 Gbit/s on one machine of this kind and
helped it on another: docs/rcvlowat.md), so the modes are picked from
evidence taken on the machine at hand, and the evidence is recorded.
"""
from __future__ import annotations

import statistics

from bench.catalog import modes_label


def choose(results: list[dict]) -> tuple[int, str]:
    """The index of the best candidate and why.

    `results` holds, per candidate, {modes, goodput_bps: [...], statuses:
    [...]}.  Only candidates whose every trial was ok compete (a stall or a
    refused mode is a disqualification, not noise); among them, the highest
    median goodput wins.  When none was ok throughout, the one with the most
    ok trials and then the highest median goodput."""
    def score(r: dict) -> tuple:
        ok = [g for g, s in zip(r["goodput_bps"], r["statuses"]) if s == "ok" and g]
        clean = len(ok) == len(r["statuses"])
        return (clean, len(ok), statistics.median(ok) if ok else 0.0)

    scores = [score(r) for r in results]
    best = max(range(len(results)), key=lambda i: scores[i])
    clean, n_ok, median = scores[best]
    others = ", ".join(f"{modes_label(r['modes'])} {s[2] / 1e9:.2f}"
                       + ("" if s[0] else f" ({len(r['statuses']) - s[1]} not ok)")
                       for i, (r, s) in enumerate(zip(results, scores)) if i != best)
    why = (f"highest median goodput of the candidates{'' if clean else ' (none was ok in every trial)'}"
           f": {median / 1e9:.2f} Gbit/s" + (f", against {others} Gbit/s" if others else ""))
    return best, why
