"""One comparison of the same suite run under several kernels (`bench run
--kernel A --kernel B`): behaviour first — trial outcomes, fallback,
subflows, failover gap, mode and socket-option support — then speed, only
where the lane can measure it.

A VM lane without KVM emulates the CPU 10-20x slower, so its goodput is a
kernel figure only where the link, not the CPU, was the bottleneck: every
ok trial of the scenario reached at least LINK_BOUND of the link model's
goodput.  Elsewhere the cell says why it is left out.
"""
from __future__ import annotations

import numpy as np

from bench.analysis import metrics
from bench.report.md import code
from bench.report.md import text as esc

LINK_BOUND = 0.9
BAD = ("fallback", "partial", "stalled", "failed")


def _kernel(run) -> str:
    k = run.metadata.get("kernel") or {}
    lane = run.metadata.get("lane") or {"kind": "host"}
    where = "host" if lane.get("kind", "host") == "host" else \
        ("VM, KVM" if lane.get("kvm") else "VM, emulated CPU")
    return f"{k.get('release') or '?'} ({where})"


def _emulated(run) -> bool:
    lane = run.metadata.get("lane") or {}
    return lane.get("kind") == "vm" and not lane.get("kvm")


def _trials(run, scenario: str, protocol: str) -> list[dict]:
    return [t for t in run.doc["trials"] if t["scenario"] == scenario and t["protocol"] == protocol]


def _outcome(trials: list[dict]) -> str:
    real = [t for t in trials if t["status"] not in ("skipped", "interrupted")]
    if not real:
        return "—"
    ok = sum(t["status"] == "ok" for t in real)
    text = f"{ok}/{len(real)} ok"
    for status in ("unsupported", *BAD):
        n = sum(t["status"] == status for t in real)
        if n:
            text += f", {n} {status}"
    subflows = [t["subflows"] for t in real if t["status"] == "ok" and t.get("subflows") is not None]
    expected = next((t.get("subflows_expected") for t in real if t.get("subflows_expected")), None)
    if subflows and trials[0]["protocol"] == "mptcp":
        text += f"; subflows {int(np.median(subflows))}" + (f"/{expected}" if expected else "")
    gaps = [t["failover_gap_ms"] for t in real if t.get("failover_gap_ms") is not None]
    if gaps:
        text += f"; failover gap {np.median(gaps):.0f} ms"
    return text


def _speed(run, trials: list[dict], metric: str) -> str:
    ok = [t for t in trials if t["status"] == "ok" and t.get(metric) is not None]
    if not ok:
        return "—"
    m = metrics.get(metric)
    value = f"{m.show(float(np.median([t[metric] for t in ok])))} {m.unit}"
    if not _emulated(run):
        return value
    if metric != "goodput_bps":
        return "not measured in an emulated-CPU lane"
    bound = [t for t in ok if t.get("expected_goodput_bps")
             and t["goodput_bps"] >= LINK_BOUND * t["expected_goodput_bps"]]
    if len(bound) == len(ok):
        return f"{value} (link-bound)"
    return "CPU-bound in an emulated-CPU lane: not a kernel figure"


def _support(runs) -> list[str]:
    """Socket options and engine modes whose support differs between kernels."""
    lines = []
    options = [r.metadata.get("socket_options") or {} for r in runs]
    names = sorted(set().union(*options))
    rows = []
    for name in names:
        verdicts = [", ".join(sorted(set((o.get(name) or {}).values()))) or "not probed" for o in options]
        if len(set(verdicts)) > 1:
            rows.append(f"| {esc(name)} | " + " | ".join(esc(v) for v in verdicts) + " |")
    lines += ["", "### Socket options on MPTCP (`bench options`) that differ", ""]
    if rows:
        lines += ["| option | " + " | ".join(esc(_kernel(r)) for r in runs) + " |",
                  "|---|" + "---|" * len(runs), *rows]
    else:
        lines.append(f"The same on every kernel ({len(names)} options probed)." if names else
                     "Not probed in these runs.")
    modes = []
    for r in runs:
        seen = {}
        for t in r.doc["trials"]:
            for side, s in (t.get("mode_support") or {}).items():
                seen.setdefault((t["protocol"], side, s.get("mode")), set()).add(s.get("status"))
        modes.append(seen)
    keys = sorted(set().union(*modes), key=str)
    rows = [f"| {p.upper()} {side} {esc(mode)} | " + " | ".join(
        esc("/".join(sorted(m.get((p, side, mode), {"—"})))) for m in modes) + " |"
        for p, side, mode in keys]
    lines += ["", "### Engine modes", ""]
    if rows:
        lines += ["| mode | " + " | ".join(esc(_kernel(r)) for r in runs) + " |",
                  "|---|" + "---|" * len(runs), *rows]
    else:
        lines.append("No trial recorded its mode support.")
    return lines


def markdown(runs) -> str:
    kernels = [_kernel(r) for r in runs]
    head = "| scenario | protocol | " + " | ".join(esc(k) for k in kernels) + " |"
    rule = "|---|---|" + "---|" * len(runs)
    scenarios = list(dict.fromkeys(t["scenario"] for r in runs for t in r.doc["trials"]))
    lines = ["# mptcp-bench kernel matrix", "",
             f"Suite **{esc((runs[0].metadata.get('suite') or {}).get('name') or '?')}** under "
             f"{len(runs)} kernels: " + "; ".join(
                 f"{esc(k)}: run {code(r.run_id)}" for k, r in zip(kernels, runs)) + ".", "",
             "## Behaviour", "",
             "Trial outcomes, MPTCP subflows (median / expected) and the failover gap, per kernel.",
             "", head, rule]
    for s in scenarios:
        for p in ("tcp", "mptcp"):
            cells = [_outcome(_trials(r, s, p)) for r in runs]
            if any(c != "—" for c in cells):
                lines.append(f"| {esc(s)} | {p.upper()} | " + " | ".join(cells) + " |")
    lines += _support(runs)
    lines += ["", "## Speed", "",
              "Medians of ok trials. An emulated-CPU VM lane (no KVM) runs 10-20x slower than "
              "the host: its goodput is shown only where every ok trial reached "
              f"{LINK_BOUND:.0%} of the link model (the link, not the CPU, was the bottleneck), and "
              "its CPU figures never.", ""]
    for metric in ("goodput_bps", "cpu_system_s_per_gb", "latency_us_p50"):
        rows = []
        for s in scenarios:
            for p in ("tcp", "mptcp"):
                cells = [_speed(r, _trials(r, s, p), metric) for r in runs]
                if any(c != "—" for c in cells):
                    rows.append(f"| {esc(s)} | {p.upper()} | " + " | ".join(cells) + " |")
        if rows:
            lines += [f"### {metrics.get(metric).label}", "", head, rule, *rows, ""]
    return "\n".join(lines) + "\n"
