"""report.md: the answer first, then the tables, then what was run on.

Rendered from a results document only, so `bench report RUN_DIR` gives the
same text as the run did.
"""
from __future__ import annotations

import math

import pandas as pd

from bench import analysis, crosscheck


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value, digits: int = 1, scale: float = 1.0) -> str:
    if _missing(value):
        return "–"
    v = value * scale
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.{digits}f}"


def _spread(row: dict, metric: str, digits: int, scale: float = 1.0) -> str:
    """median [q1–q3], or a dash when no ok trial gave a value."""
    if _missing(row[f"{metric}_median"]):
        return "–"
    return (f"{_fmt(row[f'{metric}_median'], digits, scale)} [{_fmt(row[f'{metric}_q1'], digits, scale)}"
            f"–{_fmt(row[f'{metric}_q3'], digits, scale)}]")


def _range(row: dict, metric: str, digits: int, scale: float = 1.0) -> str:
    if _missing(row[f"{metric}_min"]):
        return "–"
    return f"{_fmt(row[f'{metric}_min'], digits, scale)}–{_fmt(row[f'{metric}_max'], digits, scale)}"


def _pct(value) -> str:
    return "–" if _missing(value) else f"{value:.0%}"


def _row_for(summary: pd.DataFrame, scenario: str, protocol: str) -> dict | None:
    rows = summary[(summary["scenario"] == scenario) & (summary["protocol"] == protocol)]
    return rows.iloc[0].to_dict() if len(rows) else None


def _ratio_text(ratios: pd.DataFrame, scenario: str, label: str) -> str | None:
    r = ratios[ratios["scenario"] == scenario]
    if r.empty or math.isnan(r.iloc[0]["ratio"]):
        return None
    r = r.iloc[0]
    ci = (f" [{r['ci_low']:.2f}–{r['ci_high']:.2f}]" if not math.isnan(r["ci_low"]) else "")
    return f"{label} ×{r['ratio']:.2f}{ci}"


def _counts(row: dict | None, protocol: str) -> str:
    if not row:
        return f"no {protocol.upper()} trials"
    verified = "verified" if protocol == "mptcp" else "ok"
    text = f"{row['n_ok']}/{row['n']} {protocol.upper()} trials {verified}"
    extras = [f"{row[f'n_{s}']} {s}" for s in ("fallback", "partial", "stalled", "failed",
                                               "unsupported", "interrupted")
              if row[f"n_{s}"] or s in ("fallback", "stalled") and protocol == "mptcp"]
    return text + (", " + ", ".join(extras) if extras else "")


def headline(name: str, summary, goodput, cpu, n_links: int) -> str:
    tcp, mptcp = _row_for(summary, name, "tcp"), _row_for(summary, name, "mptcp")
    parts = []
    g = _ratio_text(goodput, name, "MPTCP goodput")
    if g and tcp and mptcp:
        parts.append(f"{g} of TCP ({_fmt(mptcp['goodput_bps_median'], 1, 1e-6)} vs "
                     f"{_fmt(tcp['goodput_bps_median'], 1, 1e-6)} Mbit/s)")
        limit = mptcp["expected_goodput_bps"]
        if limit and not math.isnan(limit):
            parts[-1] += f", {_pct(mptcp['goodput_bps_median'] / limit)} of the {n_links}-link limit"
    c = _ratio_text(cpu, name, "system CPU/GB")
    if c:
        parts.append(c)
    parts.append(_counts(mptcp, "mptcp"))
    noisy = [p for p, row in (("TCP", tcp), ("MPTCP", mptcp)) if row and
             row["goodput_bps_rel_iqr"] > analysis.HIGH_SPREAD]
    if noisy:
        parts.append(f"spread too high to conclude ({', '.join(noisy)} goodput IQR above "
                     f"{analysis.HIGH_SPREAD:.0%} of the median)")
    return f"- **{name}**: " + "; ".join(parts)


def scenario_table(name: str, summary: pd.DataFrame) -> list[str]:
    lines = ["| protocol | ok / n | goodput Mbit/s median [IQR] | min–max | limit | achieved / limit "
             "| system CPU s/GB median [IQR] | retransmits median | subflows |",
             "|---|---|---|---|---|---|---|---|---|"]
    for proto in ("tcp", "mptcp"):
        row = _row_for(summary, name, proto)
        if not row:
            continue
        m = 1e-6
        limit = row["expected_goodput_bps"]
        achieved = None if _missing(limit) or not limit else row["goodput_bps_median"] / limit
        lines.append(
            f"| {proto.upper()} | {row['n_ok']} / {row['n']} "
            f"| {_spread(row, 'goodput_bps', 2, m)} | {_range(row, 'goodput_bps', 2, m)} "
            f"| {_fmt(limit, 1, m)} | {_pct(achieved)} "
            f"| {_spread(row, 'cpu_system_s_per_gb', 3)} "
            f"| {_fmt(row['retransmits_median'], 0)} | {_fmt(row['subflows_median'], 0)} |")
    return lines


def not_ok(trials: list[dict], name: str) -> list[str]:
    bad = [t for t in trials if t["scenario"] == name and t["status"] != "ok"]
    if not bad:
        return []
    lines = ["", "Trials that are not ok (kept out of the medians):", ""]
    for t in bad:
        lines.append(f"- {t['protocol'].upper()} repeat {t['repeat']}: **{t['status']}** — {t['reason']}")
    return lines


def metadata_section(meta: dict) -> list[str]:
    k, cpu, git = meta.get("kernel", {}), meta.get("cpu", {}), meta.get("git", {})
    tools = meta.get("tools", {})
    lines = ["## What this ran on", "",
             f"- kernel {k.get('release')} ({k.get('machine')})",
             f"- CPU: {cpu.get('count')} × {cpu.get('model')}, governor {cpu.get('governor') or 'not exposed'}",
             f"- load average at start {meta.get('loadavg_start')}, at end {meta.get('loadavg_end')}",
             f"- mptcp-bench revision {git.get('revision') or 'unknown'}"
             f"{' (uncommitted changes)' if git.get('dirty') else ''}; engine built with "
             f"{tools.get('engine_compiler')}",
             f"- iperf3: {tools.get('iperf3') or 'not installed'}; mptcpize: {tools.get('mptcpize') or 'not installed'}",
             f"- Python {meta.get('python')}; " + ", ".join(
                 f"{p} {v}" for p, v in (meta.get("packages") or {}).items() if v),
             f"- started {meta.get('started')}, finished {meta.get('finished')}"]
    return lines


def markdown(doc: dict) -> str:
    trials, scenarios, meta = doc["trials"], doc["scenarios"], doc["metadata"]
    df = crosscheck.primary(analysis.frame(trials), doc)   # other drivers: the cross-check
    suite = meta.get("suite", {})
    out = [f"# mptcp-bench run {doc['run_id']}", "",
           f"Suite **{suite.get('name')}** — {suite.get('description')}. "
           f"{len(trials)} trials, {suite.get('repeat')} paired repeats per scenario, "
           f"driver {suite.get('driver')}, run {doc['state']}.", ""]
    if df.empty:
        out += ["No trial finished.", ""]
    else:
        summary = analysis.summarize(df)
        goodput = analysis.paired_ratios(df, "goodput_bps")
        cpu = analysis.paired_ratios(df, "cpu_system_s_per_gb")
        out += ["## Answer", "",
                "MPTCP against TCP, median of the per-repeat ratios with a bootstrap 95 % interval:", ""]
        for name, entry in scenarios.items():
            if name in set(df["scenario"]):
                n_links = len(entry["definition"]["links"])
                out.append(headline(name, summary, goodput, cpu, n_links))
        for name, entry in scenarios.items():
            d = entry["definition"]
            out += ["", f"## {name}", "", d["description"] + ".", "",
                    f"{len(d['links'])} link(s); CPU placement {d['cpu']['placement']}; "
                    f"{entry['expected_subflows']} MPTCP subflow(s) expected.", ""]
            if name in set(df["scenario"]):
                out += scenario_table(name, summary)
            out += not_ok(trials, name)
    out += [""] + crosscheck.section(doc) + crosscheck.speed_section(doc)
    out += metadata_section(meta) + [""]
    return "\n".join(out)
