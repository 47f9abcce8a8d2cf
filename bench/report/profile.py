"""Where the cycles go (run --profile): per scenario, the busiest symbols for
TCP and MPTCP side by side with the difference, and a flame graph per
protocol, from the whole-machine perf samples of the ok trials."""
from __future__ import annotations

import io
import statistics
from collections import Counter
from pathlib import Path

from bench.report import md
from harness.measure import profiler

TOP = 15
MIN_WIDTH = 0.004        # frames narrower than this share of the samples are not drawn


def trials_with_profiles(doc: dict, scenario: str, driver: str, protocol: str) -> list[dict]:
    return [t for t in doc["trials"] if t["scenario"] == scenario and t.get("driver") == driver
            and t["protocol"] == protocol and t["status"] == "ok" and t.get("profile")]


def symbol_costs(trials: list[dict]) -> dict[str, dict]:
    """Per symbol: the median share of busy samples over the trials, and the
    median CPU seconds per GB it stands for (share x the trial's busy CPU per
    GB over the same window), where the trial moved bytes."""
    shares: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}
    for t in trials:
        p = t["profile"]
        per_gb = t.get("cpu_system_outer_s_per_gb") or t.get("cpu_system_s_per_gb")
        for sym in {s for tr in trials for s in tr["profile"]["self"]}:
            share = p["self"].get(sym, 0) / p["samples"] if p["samples"] else 0.0
            shares.setdefault(sym, []).append(share)
            if per_gb:
                costs.setdefault(sym, []).append(share * per_gb)
    return {s: {"share": statistics.median(v),
                "s_per_gb": statistics.median(costs[s]) if s in costs else None}
            for s, v in shares.items()}


def idle_share(trials: list[dict]) -> float | None:
    """Median share of the samples in which a CPU was idle: a transfer that
    leaves the CPUs idle is waiting on something other than CPU time."""
    shares = [t["profile"]["idle_samples"] / (t["profile"]["idle_samples"] + t["profile"]["samples"])
              for t in trials if t["profile"]["idle_samples"] + t["profile"]["samples"]]
    return statistics.median(shares) if shares else None


def table(doc: dict, scenario: str, driver: str) -> list[str]:
    runs = {p: trials_with_profiles(doc, scenario, driver, p) for p in ("tcp", "mptcp")}
    tcp, mptcp = (symbol_costs(runs[p]) for p in ("tcp", "mptcp"))
    if not tcp and not mptcp:
        return []
    out = ["", "Where the CPU went (perf, every CPU; median over the ok trials).", "",
           "- CPUs idle during the trials (share of all samples): " + ", ".join(
               f"{p.upper()} {_pct(idle_share(t))}" for p, t in runs.items()) + "."]
    own = {k: v for k, v in mptcp.items() if _is_mptcps(k)}
    if own:
        cost = sum(v["s_per_gb"] or 0 for v in own.values())
        out.append(f"- MPTCP's own functions ({', '.join(MPTCP_PREFIXES)}…, self time): "
                   f"{sum(v['share'] for v in own.values()):.1%} of the MPTCP trials' busy "
                   "samples" + (f", {cost:.4f} CPU s/GB." if cost else "."))
    out += ["", "Busiest symbols by their own samples (self time), as a share of the busy "
            "samples and as CPU seconds per GB delivered:", "",
            "| symbol | TCP share | MPTCP share | TCP s/GB | MPTCP s/GB | MPTCP − TCP s/GB |",
            "|---|---|---|---|---|---|"]
    return out + [_row(sym, tcp.get(sym, {}), mptcp.get(sym, {})) for sym in _top(tcp, mptcp)]


def _top(tcp: dict, mptcp: dict) -> list[str]:
    """The TOP symbols by cost per GB (by share where no bytes moved)."""
    key = ("s_per_gb" if any(v["s_per_gb"] is not None for v in (*tcp.values(), *mptcp.values()))
           else "share")
    return sorted(set(tcp) | set(mptcp), reverse=True,
                  key=lambda sym: max((d.get(sym) or {}).get(key) or 0 for d in (tcp, mptcp)))[:TOP]


def _row(sym: str, a: dict, b: dict) -> str:
    ca, cb = a.get("s_per_gb"), b.get("s_per_gb")
    diff = f"{(cb or 0) - (ca or 0):+.4f}" if ca is not None or cb is not None else "–"
    return (f"| {md.code(sym)} | {_pct(a.get('share'))} | {_pct(b.get('share'))} | "
            f"{_num(ca)} | {_num(cb)} | {diff} |")


MPTCP_PREFIXES = ("mptcp_", "__mptcp_", "subflow_")


def _is_mptcps(symbol: str) -> bool:
    return symbol.startswith(MPTCP_PREFIXES[:3]) or "mptcp" in symbol


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"


def _num(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def merged_stacks(run_dir: Path, trials: list[dict]) -> Counter:
    stacks: Counter = Counter()
    for t in trials:
        path = run_dir / t["profile"]["folded"]
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit() and not profiler.is_idle(stack):
                stacks[stack] += int(n)
    return stacks


def flame_svg(stacks: Counter, title: str) -> bytes | None:
    """A flame graph (root at the bottom, width = share of busy samples) as
    SVG; MPTCP's own functions in one colour, TCP's in another."""
    total = sum(stacks.values())
    if not total:
        return None
    tree: dict = {}
    for stack, n in stacks.items():
        node = tree
        for frame in stack.split(";"):
            child = node.setdefault(frame, {"n": 0, "kids": {}})
            child["n"] += n
            node = child["kids"]
    boxes: list[tuple[float, int, float, str]] = []

    def walk(node: dict, x: float, depth: int) -> int:
        deepest = depth
        for name, child in sorted(node.items()):
            width = child["n"] / total
            if width >= MIN_WIDTH:
                boxes.append((x, depth, width, name))
                deepest = max(deepest, walk(child["kids"], x, depth + 1))
            x += width
        return deepest

    depth = walk(tree, 0.0, 0) + 1
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(12, max(3.0, 0.18 * depth + 1)))
    for x, y, w, name in boxes:
        colour = ("#c0504d" if "mptcp" in name else "#4f81bd" if "tcp" in name
                  else "#f2c05c" if name.startswith(("__x64_sys", "do_syscall")) else "#d9d9d9")
        ax.add_patch(matplotlib.patches.Rectangle((x, y), w, 0.95, facecolor=colour,
                                                  edgecolor="white", linewidth=0.3))
        if w > 0.03:
            ax.text(x + 0.002, y + 0.45, name[: int(w * 160)], fontsize=6, va="center",
                    clip_on=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth)
    ax.set_yticks([])
    ax.set_xlabel("share of busy samples")
    ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
