"""The attacks of a run (bench.record.security), one row per scenario and
protocol: was each refused as its scenario expects, on what evidence, and
what the victim's delivery did around it."""
from __future__ import annotations

import statistics
from collections import Counter

from bench.report import md
from harness.attack import kinds


def _median(values: list) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def _rate(value: float | None, unit: str | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1e6:.1f} Mbit/s" if unit == "bit/s" else f"{value:.0f} conn/s"


def _latency(trials: list[dict]) -> str:
    p50, p99 = (_median([t.get(f"latency_us_{p}") for t in trials]) for p in ("p50", "p99"))
    return "" if p50 is None else f"latency p50 {p50:.0f} µs, p99 {p99:.0f} µs"


def _evidence(trials: list[dict]) -> str:
    """Each counter's median over the trials (attacker observations as seen)."""
    keys = dict.fromkeys(k for t in trials for k in t["attack"]["evidence"])
    parts = []
    for key in keys:
        values = [t["attack"]["evidence"].get(key) for t in trials]
        m = _median(values)
        shown = ("/".join(sorted({str(v) for v in values})) if m is None
                 else f"{m:.0f}" if float(m).is_integer() else f"{m:.1f}")
        side, name = key.split(".", 1)
        parts.append(f"{side} {name.removeprefix('MPTcpExt').removeprefix('TcpExt')} {shown}")
    return "; ".join(parts)


def section(doc: dict) -> list[str]:
    trials = [t for t in doc["trials"] if t.get("attack") and t["status"] != "disturbed"]
    if not trials:
        return []
    out = ["", "## Attacks", "",
           "Each attack against a live connection (docs/security.md). Verdict from the kernel's "
           "counters and what the attacker saw; delivery is the victim's rate over 1 s before and "
           "after the attack (medians) and the longest gap after it, or when a connection that died "
           "stopped delivering.", "",
           "| scenario | attack | attacker | protocol | expected | verdicts | trial outcomes | "
           "delivery before → after | longest gap | evidence (medians) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(doc["scenarios"])}
    groups: dict[tuple, list[dict]] = {}
    for t in sorted(trials, key=lambda t: (order.get(t["scenario"], 0), t["protocol"] != "tcp")):
        groups.setdefault((t["scenario"], t["protocol"]), []).append(t)
    wrong = []
    for (scenario, protocol), mine in groups.items():
        a = mine[0]["attack"]
        verdicts = Counter(t["attack"]["verdict"] for t in mine)
        outcomes = Counter(t["status"] for t in mine)
        gap = _median([t["attack"].get("gap_ms") for t in mine])
        stopped = _median([t["attack"].get("stopped_after_s") for t in mine])
        gap_text = ("–" if gap is None else f"{gap:.0f} ms") + (
            f"; delivery stopped {stopped:.2f} s after" if stopped is not None else "")
        off = [t for t in mine if t["attack"]["verdict"] != t["attack"]["expected"]]
        wrong += [(scenario, protocol, t["attack"]["verdict"], t["attack"]["why"]) for t in off[:1]]
        out.append(
            f"| {md.text(scenario)} | {md.text(a['kind'])} | {kinds.KINDS[a['kind']][0].replace('_', '-')} "
            f"| {protocol.upper()} | {md.text(a['expected'])} "
            f"| {', '.join(f'{v} {n}' for v, n in verdicts.most_common())} "
            f"| {', '.join(f'{s} {n}' for s, n in outcomes.most_common())} "
            f"| {_rate(_median([t['attack'].get('rate_before') for t in mine]), a.get('rate_unit'))} → "
            f"{_rate(_median([t['attack'].get('rate_after') for t in mine]), a.get('rate_unit'))} "
            f"| {gap_text} | {md.text(_evidence(mine))} |")
    out += ["", "Why, per scenario and protocol (the first trial):", ""]
    for (scenario, protocol), mine in groups.items():
        line = (f"- {md.text(scenario)}, {protocol.upper()}: {md.text(mine[0]['attack']['verdict'])} — "
                f"{md.text(mine[0]['attack']['why'])}")
        during = _latency(mine)
        if during:      # request/response under attack, beside the same without it
            base = _latency([t for t in doc["trials"] if t["scenario"] == f"{scenario}-baseline"
                             and t["protocol"] == protocol and t["status"] == "ok"])
            line += f"; {during} under attack" + (f" ({base} without, {scenario}-baseline)" if base else "")
        out.append(line)
    if wrong:
        out += ["", "**Not as expected:** " + "; ".join(
            f"{md.text(s)} {p.upper()} was {md.text(v)} ({md.text(w)})" for s, p, v, w in wrong)]
    return out
