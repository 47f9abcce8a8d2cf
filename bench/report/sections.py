"""The report's tables: per-scenario metrics, trial outcomes, the send-mode
support matrix, and the metadata appendix (labels and formats from the
comparability registry, so a report and a comparison name keys alike)."""
from __future__ import annotations

import math
import statistics

import pandas as pd

from bench.analysis import comparability
from bench.analysis.metrics import METRICS
from bench.analysis.summary import COUNTED, RATIO
from bench.catalog import modes_label
from bench.report import md

ALWAYS_COUNTED = ("ok", "fallback", "stalled", "failed")


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def ratio_text(median: float, low, high) -> str:
    """×1.23 [1.10–1.40], or ×1.23 alone when there is no interval."""
    return f"×{median:.2f}" + ("" if missing(low) else f" [{low:.2f}–{high:.2f}]")


def counts_text(row: dict | None, protocol: str) -> str:
    if not row:
        return f"no {protocol.upper()} trials"
    verified = "verified" if protocol == "mptcp" else "ok"
    text = f"{row['n_ok']}/{row['n']} {protocol.upper()} trials {verified}"
    extras = [f"{row[f'n_{s}']} {s}" for s in COUNTED[1:]
              if row[f"n_{s}"] or (s in ("fallback", "stalled") and protocol == "mptcp")]
    return text + (", " + ", ".join(extras) if extras else "")


def _cell(m, s: dict | None) -> tuple[str, str]:
    """(median [IQR], min–max) of one stat row, in the metric's unit."""
    if not s:
        return "–", "–"
    return (f"{m.show(s['median'])} [{m.show(s['q1'])}–{m.show(s['q3'])}]",
            f"{m.show(s['min'])}–{m.show(s['max'])}")


def metric_table(rep, scenario: str, driver) -> list[str]:
    """Rows are metrics, columns the protocols' medians and the ratio."""
    protos = [p for p in ("tcp", "mptcp") if rep.count(scenario, driver, p)]
    head = ["metric"] + [f"{p.upper()} {h}" for p in protos for h in ("median [IQR]", "min–max")]
    ratio = len(protos) == 2
    head += ["MPTCP/TCP [95 % CI]"] * ratio
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ok = [rep.count(scenario, driver, p) for p in protos]
    cells = [c for row in ok for c in (f"{row['n_ok']} / {row['n']}", "")] + [""] * ratio
    lines.append("| trials ok / n | " + " | ".join(cells) + " |")
    for name, m in METRICS.items():
        stats = [rep.stat(scenario, driver, p, name) for p in protos]
        if not any(stats):
            continue
        cells = [c for s in stats for c in _cell(m, s)]
        if ratio:
            r = rep.stat(scenario, driver, RATIO, name)
            cells.append(ratio_text(r["median"], r["ci_low"], r["ci_high"]) if r else "–")
        lines.append(f"| {m.label} ({m.unit}) | " + " | ".join(cells) + " |")
    return lines + _limits(rep, scenario, driver, protos)


def _limits(rep, scenario: str, driver, protos: list[str]) -> list[str]:
    parts = []
    for p in protos:
        limit = rep.limit(scenario, driver, p)
        if not limit:
            continue
        s = rep.stat(scenario, driver, p, "goodput_bps")
        achieved = f", {s['median'] / limit:.0%} achieved" if s else ""
        parts.append(f"{p.upper()} {limit / 1e6:.1f} Mbit/s{achieved}")
    if not parts:
        return []
    df = rep.df[(rep.df["scenario"] == scenario) & (rep.df["driver"] == driver)]
    bound = df["expected_is_upper_bound"].dropna()
    note = " (an upper bound: loss and delay are not modelled)" if len(bound) and bound.iloc[0] else ""
    model = str(((rep.doc.get("metadata") or {}).get("lane") or {}).get("link_model") or "")
    if model.startswith("surveyed"):     # bench/report/hosts.py says what the survey is
        return ["", "Goodput limit from the path survey (nothing shaped): " + "; ".join(parts) + "."]
    return ["", "Link-model goodput limit: " + "; ".join(parts) + note + "."]


def not_ok(trials: list[dict], name: str, several: bool) -> list[str]:
    bad = [t for t in trials if t["scenario"] == name and t["status"] != "ok"]
    if not bad:
        return []
    lines = ["", "Trials that are not ok (kept out of the medians):", ""]
    for t in bad:
        driver = f" ({md.text(t.get('driver'))})" if several else ""
        lines.append(f"- {md.text(t['protocol'].upper())}{driver} repeat {md.text(t['repeat'])}: "
                     f"**{md.text(t['status'])}** — {md.text(t['reason'])}")
    return lines


def ok_trials(trials: list[dict], scenario: str, driver, protocol: str, field: str) -> list:
    """`field` of the ok trials of one scenario, driver and protocol that have it."""
    return [t[field] for t in trials if t["scenario"] == scenario and t.get("driver") == driver
            and t["protocol"] == protocol and t["status"] == "ok" and t.get(field)]


def tcp_retries(trials: list[dict], scenario: str, driver) -> str | None:
    """The answer of a scenario whose client retried with TCP when MPTCP
    was missing: the error it got and what the retry cost."""
    retries = [t for t in trials if t["scenario"] == scenario and t.get("driver") == driver
               and t.get("tcp_retry")]
    if not retries:
        return None
    errnos = sorted({t["tcp_retry"]["errno"] for t in retries})
    lost = statistics.median(t["tcp_retry"]["lost_us"] for t in retries)
    rates = [t["goodput_bps"] for t in retries if t.get("goodput_bps")]
    carried = (f", then carried {statistics.median(rates) / 1e6:.2f} Mbit/s over TCP"
               if rates else "")
    return (f"the client's MPTCP socket() failed with {md.text(', '.join(errnos))} in "
            f"{len(retries)} trial(s); retrying with TCP cost a median {lost:.0f} µs{carried}")


def _learned(trials: list[dict], scenario: str, driver) -> list[dict]:
    return ok_trials(trials, scenario, driver, "mptcp", "server_learned")


def learned_addresses(trials: list[dict], scenario: str, driver) -> str | None:
    """The privacy answer in a headline's words."""
    seen = _learned(trials, scenario, driver)
    if not seen:
        return None
    n = len({a for s in seen for a in s["client_addresses"]})
    return f"the server learned {n} client address{'es' if n != 1 else ''}"


def privacy(trials: list[dict], scenario: str, driver) -> list[str]:
    """What the server learned about the client in this scenario's ok MPTCP
    trials: the seed's "security and privacy" question, in one line."""
    seen = _learned(trials, scenario, driver)
    if not seen:
        return []
    addresses = sorted({a for s in seen for a in s["client_addresses"]})
    most = {k: max(s[k] for s in seen) for k in ("add_addr_received", "joins_received")}
    return ["", f"Privacy: over {len(seen)} MPTCP trial(s), the server learned "
            f"{len(addresses)} client address(es): {md.text(', '.join(addresses))} "
            f"(per trial at most {most['joins_received']} join(s) and "
            f"{most['add_addr_received']} ADD_ADDR received)."]


def per_flow(trials: list[dict], scenario: str, driver) -> list[str]:
    """Each flow's own goodput in the ok trials with several flows: the
    slowest, the median and the fastest flow, per protocol."""
    out = []
    for proto in ("tcp", "mptcp"):
        rates = sorted(r for flows in ok_trials(trials, scenario, driver, proto,
                                                "flows_goodput_bps") for r in flows)
        if rates:
            out.append(f"- {proto.upper()}: {len(rates)} flows; slowest "
                       f"{rates[0] / 1e6:.1f}, median {statistics.median(rates) / 1e6:.1f}, "
                       f"fastest {rates[-1] / 1e6:.1f} Mbit/s")
    return ["", "Each flow's own goodput (first to last byte), over the ok trials:", "",
            *out] if out else []


def socket_options(meta: dict) -> list[str]:
    """What the kernel did with each socket option on MPTCP against TCP
    (harness.measure.sockopts): the options that are not simply supported, by role."""
    matrix = meta.get("socket_options") or {}
    if not matrix:
        return []
    roles = ("client", "connected", "listener", "accepted", "on the wire")
    odd = {name: r for name, r in matrix.items()
           if not all(v.startswith("supported") for v in r.values())}
    fine = sorted(set(matrix) - set(odd))
    out = ["", "## Socket options on MPTCP", "",
           "Each option set and read back on a client before and after connect(), a listener "
           "and an accepted socket, MPTCP against TCP (`python -m bench options`). "
           f"Supported on every socket: {md.text(', '.join(fine)) or 'none'}.", ""]
    if odd:
        out += ["| option | " + " | ".join(roles) + " |", "|---" * (len(roles) + 1) + "|"]
        out += [f"| {md.text(name)} | " + " | ".join(md.text(r.get(role, "–")) for role in roles)
                + " |" for name, r in odd.items()]
    return out


def calibration(entry: dict) -> list[str]:
    """The engine modes a calibration chose at the scenario's start, with
    what every candidate did (bench.run.calibrate)."""
    done = {d: protos for d, protos in (entry.get("calibration") or {}).items() if protos}
    if not done:
        return []
    out = ["", "Engine modes chosen by a calibration at the scenario's start (its trials are "
           "not among the measured ones):", "",
           "| driver | protocol | candidate | median goodput | trials ok | |", "|---|---|---|---|---|---|"]
    for driver, protos in done.items():
        for proto, c in protos.items():
            for r in c["candidates"]:
                ok = [g for g, st in zip(r["goodput_bps"], r["statuses"]) if st == "ok" and g]
                median = f"{statistics.median(ok) / 1e9:.2f} Gbit/s" if ok else "—"
                mark = "**chosen**" if r["modes"] == c["chosen"] else ""
                out.append(f"| {md.text(driver)} | {md.text(proto.upper())} | "
                           f"{md.text(modes_label(r['modes']))} | {median} | "
                           f"{len(ok)}/{len(r['statuses'])} | {mark} |")
    return out


def outcome_table(counts: pd.DataFrame, several: bool) -> list[str]:
    shown = [s for s in COUNTED if s in ALWAYS_COUNTED or counts[f"n_{s}"].any()]
    head = ["scenario"] + ["driver"] * several + ["protocol", "trials", *shown]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in counts.itertuples(index=False):
        row = r._asdict()
        cells = [md.text(row["scenario"])] + [md.text(str(row["driver"]))] * several + [
            md.text(str(row["protocol"]).upper()), str(row["n"]),
            *(str(row[f"n_{s}"]) for s in shown)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def send_modes(trials: list[dict]) -> list[str]:
    """Mode x protocol: works / unsupported and why / zero-copy completions
    the kernel copied — what the engine mode really did, per trial."""
    cells: dict[tuple, dict] = {}
    for t in trials:
        for side, support in (t.get("mode_support") or {}).items():
            if not support:
                continue
            mode = support.get("mode") or t.get(f"{side}_mode") or "default"
            if side == "recv" and t.get("recv_lowat_kib"):
                mode += f" (SO_RCVLOWAT {t['recv_lowat_kib']} KiB)"
            if side == "send" and t.get("notsent_lowat_kib"):
                mode += f" (TCP_NOTSENT_LOWAT {t['notsent_lowat_kib']} KiB)"
            c = cells.setdefault((f"{side}: {mode}", t["protocol"]),
                                 {"works": 0, "unsupported": 0, "reasons": {}, "zc": 0,
                                  "copied": 0, "enobufs": 0})
            status = support.get("status", "works")
            c["works" if status == "works" else "unsupported"] += 1
            if status != "works":
                c["reasons"][support.get("reason") or "no reason given"] = None
            c["zc"] += support.get("zc_completions") or 0
            c["copied"] += support.get("zc_copied") or 0
            c["enobufs"] += support.get("zc_enobufs") or 0
    if not cells:
        return []
    protos = [p for p in ("tcp", "mptcp") if any(k[1] == p for k in cells)]
    lines = ["", "## Send and receive modes", "",
             "| mode | " + " | ".join(p.upper() for p in protos) + " |", "|---|" + "---|" * len(protos)]
    for mode in dict.fromkeys(k[0] for k in cells):
        lines.append(f"| {md.text(mode)} | "
                     + " | ".join(_mode_cell(cells.get((mode, p))) for p in protos) + " |")
    return lines


def _mode_cell(c: dict | None) -> str:
    if not c:
        return "–"
    n = c["works"] + c["unsupported"]
    parts = []
    if c["works"]:
        parts.append("works" + (f" ({c['works']} of {n} trials)" if c["unsupported"] else ""))
        if c["zc"]:
            parts.append(f"copied {c['copied']} of {c['zc']} zero-copy completions")
        if c["enobufs"]:
            parts.append(f"{c['enobufs']} sends refused with ENOBUFS")
    if c["unsupported"]:
        parts.append(f"unsupported ({c['unsupported']} of {n} trials): "
                     + "; ".join(map(md.text, c["reasons"])))
    return ", ".join(parts)


def metadata_section(meta: dict) -> list[str]:
    k, cpu, git = meta.get("kernel", {}), meta.get("cpu", {}), meta.get("git", {})
    tools = meta.get("tools", {})
    t = md.text
    return ["## What this ran on", "",
            f"- kernel {t(k.get('release'))} ({t(k.get('machine'))})",
            f"- CPU: {t(cpu.get('count'))} × {t(cpu.get('model'))}, "
            f"governor {t(cpu.get('governor') or 'not exposed')}",
            f"- load average at start {t(meta.get('loadavg_start'))}, "
            f"at end {t(meta.get('loadavg_end'))}",
            f"- mptcp-bench revision {t(git.get('revision') or 'unknown')}"
            f"{' (uncommitted changes)' if git.get('dirty') else ''}; engine built with "
            f"{t(tools.get('engine_compiler'))}",
            f"- iperf3: {t(tools.get('iperf3') or 'not installed')}; "
            f"mptcpize: {t(tools.get('mptcpize') or 'not installed')}",
            f"- Python {t(meta.get('python'))}; " + ", ".join(
                f"{t(p)} {t(v)}" for p, v in (meta.get("packages") or {}).items() if v),
            *_environment(meta.get("environment")),
            f"- started {t(meta.get('started'))}, finished {t(meta.get('finished'))}"]


def _environment(env: dict | None) -> list[str]:
    """The lock line: none for runs recorded before the lock existed."""
    if not env:
        return []
    if not env.get("lock"):
        return ["- Python packages: no lock file (installed without requirements.lock)"]
    moved = env.get("drift") or {}
    said = ("exactly as locked" if env.get("matches_lock") else
            f"{len(moved)} not as locked: " + "; ".join(f"{md.text(n)} {md.text(w)}"
                                                        for n, w in list(moved.items())[:5]))
    return [f"- Python packages {said} (requirements.lock {md.code(env['lock'][:19])})"]


def appendix(doc: dict) -> list[str]:
    """Every metadata key with its registry label and format, then each
    scenario's sysctls as read back inside its namespaces."""
    lines = ["", "<details><summary>All run metadata</summary>", "",
             "| key | what | value |", "|---|---|---|"]
    for key, value in comparability.flatten(doc.get("metadata") or {}).items():
        entry = comparability.lookup(key)
        shown = entry.show(value) if entry else comparability.plain(value)
        lines.append(f"| {md.code(key)} | {entry.label if entry else 'unregistered'} | "
                     f"{md.text(shown)} |")
    lines += ["", "</details>"]
    return lines + _sysctls(doc)


def _sysctls(doc: dict) -> list[str]:
    """One row per sysctl: its value, or each value with where it was read
    when namespaces or scenarios differ."""
    seen: dict[str, dict[str, list[str]]] = {}
    scenarios = doc.get("scenarios", {})
    for name, entry in scenarios.items():
        for role, values in ((entry.get("readback") or {}).get("sysctls") or {}).items():
            for key, value in values.items():
                where = role if len(scenarios) == 1 else f"{name} {role}"
                seen.setdefault(key, {}).setdefault(str(value), []).append(where)
    if not seen:
        return []
    lines = ["", "<details><summary>sysctls read back inside the namespaces</summary>", "",
             "| sysctl | value |", "|---|---|"]
    for key in sorted(seen):
        values = seen[key]
        cell = next(iter(values)) if len(values) == 1 else "; ".join(
            f"{v} ({', '.join(where)})" for v, where in values.items())
        lines.append(f"| {md.code(key)} | {md.text(cell)} |")
    return lines + ["", "</details>"]
