"""Under CPU contention: each scenario with a competing load (`load = {
cpus = ... }`, harness.measure.cpuload) beside its no-load twin in the same run —
the scenario whose definition is the same but for the load — TCP and
MPTCP goodput against no load, stalls counted (docs/scenarios.md)."""
from __future__ import annotations

import statistics

from bench.report import md

IGNORED = ("name", "description", "load")
LOADS = ("receiver", "sender", "both")


def _key(definition: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in definition.items() if k not in IGNORED))


def groups(doc: dict) -> dict[str, dict[str, str]]:
    """{no-load scenario: {"none": it, "receiver": a loaded twin, ...}}."""
    defs = {n: e.get("definition") or {} for n, e in doc["scenarios"].items()
            if e.get("state") != "skipped"}
    bases = {_key(d): n for n, d in defs.items() if not d.get("load")}
    out: dict[str, dict[str, str]] = {}
    for name, d in defs.items():
        base = bases.get(_key(d)) if d.get("load") else None
        if base:
            out.setdefault(base, {"none": base})[d["load"]["cpus"]] = name
    return out


def _cell(trials: list[dict], scenario: str, driver, proto: str, base: float | None):
    """(text, median goodput of the ok trials)."""
    mine = [t for t in trials if t["scenario"] == scenario and t.get("driver") == driver
            and t["protocol"] == proto and t["status"] != "disturbed"]
    ok = [t["goodput_bps"] for t in mine if t["status"] == "ok" and t.get("goodput_bps")]
    stalled = [t["goodput_bps"] for t in mine if t["status"] == "stalled" and t.get("goodput_bps")]
    g = statistics.median(ok) if ok else None
    text = f"{g / 1e6:.1f}" if g else "–"
    if g and base:
        text += f" (×{g / base:.2f})"
    text += f", {len(ok)}/{len(mine)} ok"
    if stalled:
        text += f", {len(stalled)} stalled at {statistics.median(stalled) / 1e6:.1f}"
    return text, g


def section(doc: dict, driver) -> list[str]:
    found = groups(doc)
    if not found:
        return []
    trials = doc["trials"]
    out = ["", "## Under CPU contention", "",
           "A CPU-bound process (`while 1: pass`, normal priority) pinned beside every trial "
           "on the receiver's CPU, the sender's, or both; its CPU is neither the trial's own "
           "nor foreign (`cpu_load_s`). Median goodput in Mbit/s of the ok trials, × the same "
           "scenario without the load; stalled trials are counted with their median, never "
           "averaged in:", "",
           "| scenario | load on | TCP | MPTCP | MPTCP/TCP |", "|---|---|---|---|---|"]
    for base, loaded in found.items():
        ref = {p: _cell(trials, base, driver, p, None)[1] for p in ("tcp", "mptcp")}
        for load in ("none", *LOADS):
            name = loaded.get(load)
            if not name:
                continue
            tcp, mptcp = (_cell(trials, name, driver, p, ref[p] if load != "none" else None)
                          for p in ("tcp", "mptcp"))
            ratio = f"×{mptcp[1] / tcp[1]:.2f}" if tcp[1] and mptcp[1] else "–"
            label = "no load" if load == "none" else f"the {load}'s CPU" if load != "both" \
                else "both CPUs"
            out.append(f"| {md.text(base)} | {label} | {tcp[0]} | {mptcp[0]} | {ratio} |")
    return out
