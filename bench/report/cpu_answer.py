"""What the answer line states about CPU: per GB, and per second where the
two protocols ran at different link-limited rates (docs/method.md, "CPU
per GB and per second"); no ratio where the difference is below what the
machine resolves (bench.analysis.resolution)."""
from __future__ import annotations

from bench.analysis import resolution
from bench.analysis.metrics import METRICS
from bench.analysis.summary import RATIO
from bench.report import sections

# Goodputs whose paired ratio is within this of 1 ran at one rate: CPU per
# GB then compares like with like.
EQUAL_RATES = 0.10


def part(rep, scenario, driver, name: str, subject: str = "", against: str = "") -> str | None:
    """`label ×ratio [CI] (MPTCP vs TCP unit)`, or None without both
    protocols' medians and their paired ratio."""
    r, tcp, mptcp = (rep.stat(scenario, driver, p, name) for p in (RATIO, "tcp", "mptcp"))
    if not (r and tcp and mptcp):
        return None
    m = METRICS[name]
    both = f"{m.show(mptcp['median'])} vs {m.show(tcp['median'])} {m.unit}"
    floor = rep.floor(scenario, driver, name)
    if floor and not floor["resolved"]:
        return (f"{subject}{m.label} below what this machine resolves ({both}: "
                f"{m.show(floor['difference'])} apart, within the foreign CPU's spread of "
                f"{m.show(floor['floor'])} {m.unit})")
    return (f"{subject}{m.label} {sections.ratio_text(r['median'], r['ci_low'], r['ci_high'])}"
            f"{against} ({both})")


def floor_lines(rep, scenario, driver) -> list[str]:
    """Under a scenario's table: each own-CPU metric's floor against the
    difference of the protocols' medians."""
    shown = []
    for name in resolution.CPU_METRICS:
        f = rep.floor(scenario, driver, name)
        if f:
            m = METRICS[name]
            verdict = "resolved" if f["resolved"] else "**not resolved**"
            shown.append(f"{m.label} {m.show(f['floor'])} {m.unit} against a difference of "
                         f"{m.show(f['difference'])} ({verdict})")
    if not shown:
        return []
    return ["", "What this machine resolves (the foreign CPU's interquartile range over the "
            "trials, in each metric's unit, against the difference of the TCP and MPTCP "
            "medians): " + "; ".join(shown) + "."]


def rates(rep, scenario, driver) -> str:
    """Which comparison own CPU/GB states: at equal rates; at different
    link-limited rates, with own CPU per second beside it; nothing where
    the CPU, not a link, set the rates (per GB is then a byte's cost)."""
    r = rep.stat(scenario, driver, RATIO, "goodput_bps")
    if not r:
        return ""
    if abs(r["median"] - 1) <= EQUAL_RATES:
        return f", at equal rates (goodputs within {EQUAL_RATES:.0%})"
    if not (rep.limit(scenario, driver, "tcp") and rep.limit(scenario, driver, "mptcp")):
        return ""
    per_s = part(rep, scenario, driver, "cpu_own_per_s")
    return (f", at different link-limited rates (MPTCP ×{r['median']:.2f} of TCP's goodput), "
            "so per GB compares different workloads" + (f"; {per_s}" if per_s else ""))
