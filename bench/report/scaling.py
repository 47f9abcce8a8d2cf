"""Against the connection count: scenarios of one run whose definitions are
the same but for `workload.flows` (the `scale` suite's, the
connection-scaling suite's) form a curve; with three counts or more, the
report gives each metric of their workload against the count, TCP beside
MPTCP, in a table and a figure.  Only ok trials give a median; the trials
that were not ok are counted beside it."""
from __future__ import annotations

from bench.analysis.metrics import METRICS
from bench.report import md

IGNORED = ("name", "description", "expect")   # what a scenario expects is not what it measures
MIN_POINTS = 3
# What a curve shows, by workload kind.
SHOWN = {
    "bulk": ("goodput_bps", "cpu_own_s_per_gb"),
    "rr": ("transactions_per_s", "latency_us_p50", "latency_us_p99", "cpu_own_us_per_transaction"),
    "rr_under_load": ("latency_us_p50", "latency_us_p99"),
    "crr": ("transactions_per_s", "latency_us_p50", "latency_us_p99", "cpu_own_us_per_transaction"),
    "hold": ("conn_mem_bytes", "accept_per_s", "connect_per_s",
             "cpu_own_us_per_connection"),
}


def _key(definition: dict) -> tuple:
    workload = {k: v for k, v in (definition.get("workload") or {}).items() if k != "flows"}
    rest = tuple(sorted((k, repr(v)) for k, v in definition.items()
                        if k not in (*IGNORED, "workload")))
    return rest + (("workload", repr(sorted(workload.items()))),)


def curves(doc: dict) -> list[tuple[str, list[tuple[int, str]]]]:
    """[(label, [(flows, scenario), ...] by flows)] for every curve of at
    least MIN_POINTS connection counts."""
    found: dict[tuple, list[tuple[int, str]]] = {}
    for name, entry in doc["scenarios"].items():
        d = entry.get("definition") or {}
        if entry.get("state") == "skipped" or not d:
            continue
        found.setdefault(_key(d), []).append(((d.get("workload") or {}).get("flows", 1), name))
    out = []
    for points in found.values():
        points = sorted(points)
        if len({f for f, _ in points}) >= MIN_POINTS:
            out.append((f"{points[0][1]} … {points[-1][1]}", points))
    return out


def kind_of(doc: dict, scenario: str) -> str:
    return ((doc["scenarios"][scenario].get("definition") or {}).get("workload") or {}).get(
        "kind", "bulk")


def section(rep, driver) -> list[str]:
    doc = rep.doc
    found = curves(doc)
    if not found:
        return []
    out = ["", "## Against the connection count", "",
           "Scenarios the same but for their connection count: the median of the ok trials "
           "per count, TCP beside MPTCP, and the trials that were not ok (each with its "
           "reason in its scenario's section)."]
    for label, points in found:
        shown = [m for m in SHOWN.get(kind_of(doc, points[0][1]), ())
                 if any(rep.stat(s, driver, p, m) for _, s in points for p in ("tcp", "mptcp"))]
        if not shown:
            continue
        out += ["", f"### {md.text(label)}", "",
                "| connections | " + " | ".join(
                    f"{METRICS[m].label} ({METRICS[m].unit}) TCP / MPTCP" for m in shown)
                + " | not ok TCP / MPTCP |",
                "|---|" + "---|" * (len(shown) + 1)]
        for flows, scenario in points:
            cells = [" / ".join(_median(rep, scenario, driver, p, m) for p in ("tcp", "mptcp"))
                     for m in shown]
            bad = " / ".join(_not_ok(rep, scenario, driver, p) for p in ("tcp", "mptcp"))
            out.append(f"| {flows} | " + " | ".join(cells) + f" | {bad} |")
        series = {m: {p: [(f, rep.stat(s, driver, p, m)) for f, s in points]
                      for p in ("tcp", "mptcp")} for m in shown}
        out += rep.figure(f"scaling-{points[0][1]}", f"{label}: against the connection count",
                          plots().scaling(label, series))
    return out


def plots():
    from bench.report import plots as p  # matplotlib only when a figure is drawn
    return p


def _median(rep, scenario, driver, proto, metric) -> str:
    s = rep.stat(scenario, driver, proto, metric)
    return METRICS[metric].show(s["median"]) if s else "–"


def _not_ok(rep, scenario, driver, proto) -> str:
    c = rep.count(scenario, driver, proto)
    if not c:
        return "–"
    bad = {k[2:]: int(v) for k, v in c.items()
           if k.startswith("n_") and k != "n_ok" and isinstance(v, (int, float)) and v > 0}
    return ", ".join(f"{v} {k}" for k, v in bad.items()) or "0"
