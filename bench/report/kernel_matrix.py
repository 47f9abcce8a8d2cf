"""One comparison of the same suite run under several kernels (`bench run
--kernel A --kernel B`): first what changed from each kernel to the next, in
words; then behaviour — trial outcomes, fallback, subflows, failover gap,
MPTCP features, mode and socket-option support — then speed, only where the
lane can measure it.  A kernel that could not be fetched or did not run is
a column that says why.

A VM lane without KVM emulates the CPU 10-20x slower, so its goodput is a
kernel figure only where the link, not the CPU, was the bottleneck: every
ok trial of the scenario reached at least LINK_BOUND of the link model's
goodput.  Elsewhere the cell says why it is left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bench.analysis import metrics
from bench.report.md import code
from bench.report.md import text as esc

LINK_BOUND = 0.9
BAD = ("fallback", "partial", "stalled", "failed")


@dataclass
class Missing:
    """A kernel of the matrix that has no run: its name and why."""
    label: str
    reason: str


def _kernel(run) -> str:
    if isinstance(run, Missing):
        return f"{run.label} (did not run)"
    k = run.metadata.get("kernel") or {}
    lane = run.metadata.get("lane") or {"kind": "host"}
    where = "host" if lane.get("kind", "host") == "host" else \
        ("VM, KVM" if lane.get("kvm") else "VM, emulated CPU")
    debian = lane.get("debian")
    if debian:
        where += f"; Debian {debian.get('version')}"
    return f"{k.get('release') or '?'} ({where})"


def _emulated(run) -> bool:
    lane = run.metadata.get("lane") or {}
    return lane.get("kind") == "vm" and not lane.get("kvm")


def _trials(run, scenario: str, protocol: str) -> list[dict]:
    return [t for t in run.doc["trials"] if t["scenario"] == scenario and t["protocol"] == protocol]


def _cell(run, scenario: str, protocol: str, numbers: bool = True) -> str:
    """A behaviour cell: the trials' outcome, why the scenario was skipped,
    or why the kernel has no run.  Without `numbers`, only what a kernel
    change can flip: outcomes, subflows, and what a skip needed."""
    if isinstance(run, Missing):
        return "did not run"
    entry = (run.doc.get("scenarios") or {}).get(scenario) or {}
    protocols = (entry.get("definition") or {}).get("protocols")
    if protocols and protocol not in protocols:
        return "—"
    if entry.get("state") == "skipped":
        reason = entry.get("reason") or "no reason recorded"
        need = re.search(r"needs (\S+)", reason)
        return f"skipped: {reason}" if numbers or not need else f"skipped: needs {need.group(1)}"
    return _outcome(_trials(run, scenario, protocol), numbers)


def _outcome(trials: list[dict], numbers: bool = True) -> str:
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
    if not numbers:
        return text
    if any(t["status"] == "fallback" for t in real):
        connect = [t["connect_ms"] for t in real if t.get("connect_ms") is not None]
        if connect:         # a dropped SYN costs its retransmission timeouts
            text += f"; connect {np.median(connect):.0f} ms"
    gaps = _gaps(real)
    if gaps:
        text += f"; failover gap {np.median(gaps):.0f} ms"
    return text


def _gaps(trials: list[dict]) -> list[float]:
    return [t["failover_gap_ms"] for t in trials if t["status"] not in ("skipped", "interrupted")
            and t.get("failover_gap_ms") is not None]


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


def _options(run) -> dict[str, str]:
    """Per socket option, MPTCP's verdicts on this kernel."""
    options = run.metadata.get("socket_options") or {}
    return {name: ", ".join(sorted(set((v or {}).values()))) or "not probed"
            for name, v in options.items()}


def _modes(run) -> dict[str, str]:
    seen: dict = {}
    for t in run.doc["trials"]:
        for side, s in (t.get("mode_support") or {}).items():
            seen.setdefault(f"{t['protocol'].upper()} {side} {s.get('mode')}", set()).add(s.get("status"))
    return {k: "/".join(sorted(v, key=str)) for k, v in seen.items()}


def _features(run) -> dict[str, str]:
    """The kernel's MPTCP features (metadata.features) as cells, with every
    net.mptcp sysctl the kernel has."""
    f = run.metadata.get("features") or {}
    out = {}
    for name, v in f.items():
        if name == "sysctls":
            continue
        ok = v.get("ok")           # why not is in the run's metadata, often naming the kernel
        out[name] = (v.get("detail") or "") if ok is None else ("yes" if ok else "no")
    for name in f.get("sysctls") or ():
        out[name] = "present"
    return out


def _table(title: str, runs, rows: dict[str, list[str]], same: str) -> list[str]:
    lines = ["", f"### {title}", ""]
    ran = [i for i, r in enumerate(runs) if not isinstance(r, Missing)]
    differ = {k: cells for k, cells in rows.items() if len({cells[i] for i in ran}) > 1}
    if differ:
        lines += [f"| | {' | '.join(esc(_kernel(r)) for r in runs)} |", "|---|" + "---|" * len(runs),
                  *(f"| {esc(k)} | " + " | ".join(esc(c) for c in cells) + " |"
                    for k, cells in sorted(differ.items()))]
    lines.append(same.format(n=len(rows) - len(differ)) if rows else "Not recorded in these runs.")
    return lines


def _by_kernel(runs, of, absent: str) -> dict[str, list[str]]:
    """Rows of a table: per key `of(run)` returns, the cell of each kernel."""
    maps = [of(r) if not isinstance(r, Missing) else None for r in runs]
    keys = set().union(*(m for m in maps if m is not None))
    return {k: [("did not run" if m is None else m.get(k, absent)) for m in maps] for k in keys}


def _support(runs) -> list[str]:
    """MPTCP features, socket options and engine modes that differ between kernels."""
    lines = _table("MPTCP features and net.mptcp sysctls that differ", runs,
                   _by_kernel(runs, _features, "absent"),
                   "{n} more are the same on every kernel that ran.")
    lines += _table("Socket options on MPTCP (`bench options`) that differ", runs,
                    _by_kernel(runs, _options, "not probed"),
                    "{n} more options are the same on every kernel that ran.")
    lines += _table("Engine modes that differ", runs, _by_kernel(runs, _modes, "—"),
                    "{n} more modes are the same on every kernel that ran.")
    return lines


def _goodputs(run, scenario: str, protocol: str) -> list[float] | None:
    """The goodputs of ok trials, where they are a kernel figure (not
    CPU-bound in an emulated-CPU lane)."""
    ok = [t for t in _trials(run, scenario, protocol)
          if t["status"] == "ok" and t.get("goodput_bps") is not None]
    if not ok:
        return None
    if _emulated(run) and not all(t.get("expected_goodput_bps") and
                                  t["goodput_bps"] >= LINK_BOUND * t["expected_goodput_bps"]
                                  for t in ok):
        return None
    return [t["goodput_bps"] for t in ok]


def ratio_range(run, scenario: str) -> tuple[float, float] | None:
    """MPTCP's goodput over TCP's within one kernel's run, as a range: the
    lowest MPTCP over the highest TCP to the highest over the lowest.  A
    ratio within one run is what compares across lanes whose CPUs differ."""
    tcp, mptcp = _goodputs(run, scenario, "tcp"), _goodputs(run, scenario, "mptcp")
    if not tcp or not mptcp:
        return None
    return min(mptcp) / max(tcp), max(mptcp) / min(tcp)


def changes(runs, scenarios: list[str]) -> list[str]:
    """Per pair of neighbouring kernels, what changed, in words: features,
    sysctls, options and modes, each scenario's outcome, and each goodput
    whose range (min-max of ok trials) does not overlap the other's."""
    lines = ["## What changed from one kernel to the next", "",
             "Behaviour that differs (outcomes, subflows, features, options), and ranges that do "
             "not overlap: failover gaps, and MPTCP/TCP goodput ratios within each kernel's run "
             "(lowest MPTCP over highest TCP to highest over lowest; ok trials, link-bound only "
             "in an emulated-CPU lane).", ""]
    real = [r for r in runs if not isinstance(r, Missing)]
    for a, b in zip(real, real[1:]):
        said = []
        for title, of, absent in (("feature", _features, "absent"), ("option", _options, "not probed"),
                                  ("mode", _modes, "—")):
            fa, fb = of(a), of(b)
            for k in sorted(set(fa) | set(fb)):
                if fa.get(k, absent) != fb.get(k, absent):
                    said.append(f"{title} {code(k)}: {esc(fa.get(k, absent))} → {esc(fb.get(k, absent))}")
        for s in scenarios:
            for p in ("tcp", "mptcp"):
                ca, cb = _cell(a, s, p, numbers=False), _cell(b, s, p, numbers=False)
                if ca != cb and "—" not in (ca, cb):
                    said.append(f"{code(s)} {p.upper()}: {esc(_cell(a, s, p))} → {esc(_cell(b, s, p))}")
                ta, tb = _trials(a, s, p), _trials(b, s, p)
                ga, gb = _gaps(ta), _gaps(tb)
                # A gap counts whole intervals of the delivery series: ranges
                # closer than one interval apart are the same gap.
                step = 1000 * max([t.get("interval_s") or 0 for t in ta + tb] or [0])
                if ga and gb and (max(ga) + step < min(gb) or max(gb) + step < min(ga)):
                    said.append(f"{code(s)} {p.upper()} failover gap: {min(ga):.0f}–{max(ga):.0f} → "
                                f"{min(gb):.0f}–{max(gb):.0f} ms")
            ra, rb = ratio_range(a, s), ratio_range(b, s)
            if ra and rb and (ra[1] < rb[0] or rb[1] < ra[0]):
                said.append(f"{code(s)} MPTCP/TCP goodput: ×{ra[0]:.2f}–{ra[1]:.2f} → "
                            f"×{rb[0]:.2f}–{rb[1]:.2f}")
        lines += [f"**{esc(_kernel(a))} → {esc(_kernel(b))}** (runs {code(a.run_id)}, "
                  f"{code(b.run_id)}):", ""]
        lines += [f"- {x}" for x in said] or ["- nothing measured differs."]
        lines.append("")
    for m in runs:
        if isinstance(m, Missing):
            lines += [f"**{esc(m.label)}** did not run: {esc(m.reason)}.", ""]
    return lines


def markdown(runs, missing=()) -> str:
    """`runs` in the order given, then the kernels that did not run."""
    real = list(runs)
    runs = [*real, *missing]
    kernels = [_kernel(r) for r in runs]
    head = "| scenario | protocol | " + " | ".join(esc(k) for k in kernels) + " |"
    rule = "|---|---|" + "---|" * len(runs)
    scenarios = list(dict.fromkeys(
        [t["scenario"] for r in real for t in r.doc["trials"]] +
        [s for r in real for s in (r.doc.get("scenarios") or {})]))
    lines = ["# mptcp-bench kernel matrix", "",
             f"Suite **{esc((real[0].metadata.get('suite') or {}).get('name') or '?')}** under "
             f"{len(runs)} kernels: " + "; ".join(
                 f"{esc(k)}: " + (f"run {code(r.run_id)}" if not isinstance(r, Missing)
                                  else esc(r.reason)) for k, r in zip(kernels, runs)) + ".", ""]
    lines += changes(runs, scenarios)
    lines += ["## Behaviour", "",
              "Trial outcomes, MPTCP subflows (median / expected) and the failover gap, per kernel.",
              "", head, rule]
    for s in scenarios:
        for p in ("tcp", "mptcp"):
            cells = [_cell(r, s, p) for r in runs]
            if any(c not in ("—", "did not run") for c in cells):
                lines.append(f"| {esc(s)} | {p.upper()} | " + " | ".join(esc(c) for c in cells) + " |")
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
                cells = [_speed(r, _trials(r, s, p), metric) if not isinstance(r, Missing)
                         else "did not run" for r in runs]
                if any(c not in ("—", "did not run") for c in cells):
                    rows.append(f"| {esc(s)} | {p.upper()} | " + " | ".join(cells) + " |")
        if rows:
            lines += [f"### {metrics.get(metric).label}", "", head, rule, *rows, ""]
    return "\n".join(lines) + "\n"
