"""The report's figures, drawn with matplotlib (Agg) into PNG bytes.

Each function returns None when the run holds nothing to draw, so a
report shows exactly the figures its data supports.
"""
from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.analysis.metrics import METRICS  # noqa: E402

COLORS = {"tcp": "#1f77b4", "mptcp": "#d62728"}
OK_STYLE = {"linewidth": 1.2, "alpha": 0.7}
NOT_OK_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.0, "alpha": 0.9}


def literal(text) -> str:
    """Text from files (scenario names, statuses, addresses) as itself:
    `$` escaped, so it is a dollar sign and never opens mathtext (which
    could also fail to parse).  Mathtext stays on for the log axes' ticks."""
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _trials_of(doc: dict, scenario: str, protocol: str) -> list[dict]:
    return [t for t in doc["trials"] if t["scenario"] == scenario and t["protocol"] == protocol
            and t.get("intervals_bytes")]


PLOT_BIN_S = 0.1   # finer interval series (failover's 10 ms) are summed to this for plotting


def _binned(values, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(time at each bin's end, Mbit/s) of a bytes-per-interval series,
    intervals summed into bins of about PLOT_BIN_S so that a 10 ms series
    shows rates, not the receiver's bursts."""
    b = np.asarray(values, dtype=float)
    k = max(1, min(round(PLOT_BIN_S / step), len(b)))   # a trailing partial bin is dropped
    b = b[:len(b) // k * k].reshape(-1, k).sum(axis=1)
    width = step * k
    return np.arange(1, len(b) + 1) * width, b * 8 / width / 1e6


def _series(t: dict) -> tuple[np.ndarray, np.ndarray]:
    return _binned(t["intervals_bytes"], t.get("interval_s") or 0.1)


def _lines(ax, trials: list[dict], color: str) -> None:
    for t in trials:
        x, y = _series(t)
        if t["status"] == "ok":
            ax.plot(x, y, color=color, **OK_STYLE)
        else:
            ax.plot(x, y, label=literal(f"#{t['repeat']} {t['status']}"), **NOT_OK_STYLE)


def _stacked(ax, t: dict) -> bool:
    """One MPTCP trial stacked per subflow, when its per-subflow series exist."""
    per = t.get("subflow_intervals_bytes")
    if not per:
        return False
    step = t.get("interval_s") or 0.1
    n = min(len(s) for s in per)
    binned = [_binned(s[:n], step) for s in per]
    ax.stackplot(binned[0][0], [y for _, y in binned], alpha=0.6,
                 labels=[_subflow_label(t, i) for i in range(len(binned))])
    return True


def _subflow_label(t: dict, i: int) -> str:
    keys = t.get("subflow_intervals_keys") or []
    local = keys[i].split(" → ")[0].rsplit(":", 1)[0] if i < len(keys) else None
    return literal(f"subflow {i + 1}" + (f" from {local}" if local else "") + f" (#{t['repeat']})")


def _median_trial(trials: list[dict]) -> dict | None:
    ok = sorted((t for t in trials if t["status"] == "ok" and t.get("goodput_bps")),
                key=lambda t: t["goodput_bps"])
    return ok[len(ok) // 2] if ok else None


def timeseries(doc: dict, scenario: str) -> bytes | None:
    """Goodput over time, one line per trial, a panel per protocol; MPTCP's
    median trial stacked per subflow when per-subflow series exist, else a
    panel of each trial's per-subflow byte shares."""
    protos = [p for p in ("tcp", "mptcp") if _trials_of(doc, scenario, p)]
    if not protos:
        return None
    mptcp = _trials_of(doc, scenario, "mptcp")
    shares = [t for t in mptcp if len(t.get("subflow_share") or []) > 1]
    panels = len(protos) + bool(shares)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4), squeeze=False,
                             layout="constrained")
    top = 0.0
    for ax, proto in zip(axes[0], protos):
        trials = _trials_of(doc, scenario, proto)
        title = f"{proto.upper()}: goodput per trial"
        if proto == "mptcp" and _stacked(ax, _median_trial(trials) or {}):
            title = "MPTCP: median trial per subflow, others as lines"
        _lines(ax, trials, COLORS[proto])
        ax.set(title=title, xlabel="time since first byte (s)", ylabel="goodput (Mbit/s)")
        top = max(top, ax.get_ylim()[1])
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[0][:len(protos)]:
        ax.set_ylim(0, top)
        ax.grid(alpha=0.3)
    if shares:
        _share_panel(axes[0][-1], shares)
    fig.suptitle(literal(scenario))
    return _png(fig)


def _share_panel(ax, trials: list[dict]) -> None:
    """Horizontal 100 % bars: each MPTCP trial's bytes per subflow."""
    width = max(len(t["subflow_share"]) for t in trials)
    for row, t in enumerate(trials):
        left = 0.0
        for i, share in enumerate(t["subflow_share"]):
            ax.barh(row, share * 100, left=left, color=f"C{i}",
                    label=f"subflow {i + 1}" if row == 0 else None)
            left += share * 100
    ax.set_yticks(range(len(trials)), [literal(f"#{t['repeat']} {t['status']}") for t in trials])
    ax.set(title="MPTCP: bytes per subflow", xlabel="share of bytes acked (%)", xlim=(0, 100))
    ax.legend(fontsize=7, ncol=min(width, 4), loc="upper center", bbox_to_anchor=(0.5, -0.22))


def bars(describe: pd.DataFrame, metric_names: tuple[str, ...]) -> bytes | None:
    """TCP vs MPTCP medians with bootstrap 95 % CIs, a panel per metric."""
    d = describe[describe["protocol"].isin(["tcp", "mptcp"])]
    present = [m for m in metric_names if (d["metric"] == m).any()]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 3.4), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes[0], present):
        _bar_panel(ax, d[d["metric"] == name], METRICS[name])
    return _png(fig)


def _bar_panel(ax, d: pd.DataFrame, m) -> None:
    several = d["driver"].nunique(dropna=False) > 1
    d = d.assign(label=d["scenario"] + (" (" + d["driver"].astype(str) + ")" if several else ""))
    labels = list(dict.fromkeys(d["label"]))
    shown = [literal(label) for label in labels]
    x = np.arange(len(labels))
    for i, proto in enumerate(("tcp", "mptcp")):
        rows = d[d["protocol"] == proto].set_index("label").reindex(labels)
        med = rows["median"].to_numpy(dtype=float) * m.scale
        err = np.abs(np.vstack([med - rows["ci_low"].to_numpy(dtype=float) * m.scale,
                                rows["ci_high"].to_numpy(dtype=float) * m.scale - med]))
        ax.bar(x + (i - 0.5) * 0.38, med, 0.38, yerr=np.nan_to_num(err), capsize=3,
               color=COLORS[proto], label=proto.upper())
    positive = d["median"][d["median"] > 0] * m.scale
    if len(positive) and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    ax.set_xticks(x, shown, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel=f"{m.label} ({m.unit})", title=f"{m.label}: median, 95 % CI")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def _two_and_five(v: float, _pos) -> str:
    """Minor log ticks labelled at 2 and 5 only: all of them overlap."""
    mantissa = round(v / 10 ** np.floor(np.log10(v))) if v > 0 else 0
    return f"{v:g}" if mantissa in (2, 5) else ""


def latency_cdf(latency: pd.DataFrame, scenario: str) -> bytes | None:
    """Per protocol, the distribution of per-transaction latencies of the
    ok trials, pooled."""
    d = latency[(latency["scenario"] == scenario) & (latency["status"] == "ok")]
    if d.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for proto, g in d.groupby("protocol", sort=False):
        v = np.sort(g["latency_us"].to_numpy(dtype=float))
        ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post",
                color=COLORS.get(proto), label=f"{str(proto).upper()} ({len(v)} samples)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_two_and_five))
    ax.set(xlabel="transaction latency (µs)", ylabel="fraction of transactions ≤ x",
           title=literal(f"{scenario}: latency CDF"), ylim=(0, 1.01))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


SHARE_BIN_S = 0.5


def subflow_shares(doc: dict, scenario: str) -> bytes | None:
    """Each subflow's share of the bytes acked per half second, for every
    MPTCP trial with per-subflow series: a line per subflow and trial (the
    median trial drawn thicker), so a path that is dropped or taken over
    shows as a share moving over time."""
    trials = [t for t in _trials_of(doc, scenario, "mptcp")
              if t["status"] == "ok" and len(t.get("subflow_intervals_bytes") or []) > 1]
    if not trials:
        return None
    median = _median_trial(trials)
    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    for t in trials:
        step = t.get("interval_s") or 0.1
        per = t["subflow_intervals_bytes"]
        n = min(len(s) for s in per)
        k = max(1, round(SHARE_BIN_S / step))
        m = n // k * k
        binned = np.array([np.asarray(s[:m], float).reshape(-1, k).sum(axis=1) for s in per])
        total = binned.sum(axis=0)
        x = np.arange(1, binned.shape[1] + 1) * step * k
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total > 0, binned / total * 100, np.nan)
        thick = t is median
        for i, y in enumerate(shares):
            ax.plot(x, y, color=f"C{i}", lw=2.0 if thick else 0.8, alpha=1.0 if thick else 0.4,
                    label=_subflow_label(t, i) if thick else None)
    ax.set(title=literal(f"{scenario}: MPTCP subflows' share of bytes acked over time"),
           xlabel="time since first byte (s)", ylabel="share (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def scaling(label: str, series: dict) -> bytes | None:
    """A panel per metric: its median (with the 95 % CI) against the
    connection count, TCP and MPTCP, both axes logarithmic.  `series` is
    {metric: {protocol: [(connections, describe row or None), ...]}}."""
    panels = [m for m, by in series.items() if any(s for pts in by.values() for _, s in pts)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes[0], panels):
        m = METRICS[name]
        for proto, pts in series[name].items():
            pts = [(f, s) for f, s in pts if s]
            if not pts:
                continue
            x = np.array([f for f, _ in pts], dtype=float)
            med = np.array([s["median"] for _, s in pts], dtype=float) * m.scale
            lo = np.array([s["ci_low"] for _, s in pts], dtype=float) * m.scale
            hi = np.array([s["ci_high"] for _, s in pts], dtype=float) * m.scale
            ax.errorbar(x, med, yerr=np.nan_to_num(np.abs(np.vstack([med - lo, hi - med]))),
                        marker="o", capsize=3, color=COLORS[proto], label=proto.upper())
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        positive = [s["median"] for pts in series[name].values() for _, s in pts
                    if s and s["median"] > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_yscale("log")
        ax.set(xlabel="connections", ylabel=f"{m.label} ({m.unit})", title=literal(m.label))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(literal(label), fontsize=9)
    return _png(fig)


def join_delays(delays: dict[str, list[float]]) -> bytes | None:
    """Each join's delay after its connection was established, one row per
    scenario and path manager, every join a dot (log scale)."""
    rows = [(label, [max(v, 0.01) for v in values]) for label, values in delays.items() if values]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.2), layout="constrained")
    rng = np.random.default_rng(0)      # the same jitter on every rendering
    for i, (label, values) in enumerate(rows):
        color = COLORS["mptcp"] if "(kernel)" in label else "#2ca02c"
        ax.scatter(values, i + rng.uniform(-0.15, 0.15, len(values)), s=10, alpha=0.6, color=color)
        ax.plot([np.median(values)] * 2, [i - 0.3, i + 0.3], color="black", linewidth=1.5)
    ax.set_yticks(range(len(rows)), [literal(label) for label, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="join after the connection was established (ms); bar: median")
    ax.grid(alpha=0.3, axis="x", which="both")
    return _png(fig)
