"""trend --html: one static page, one small chart per series with its
change points marked, each point a link to its run's report.html.

The charts are matplotlib SVG written inline, so the page opens offline,
alone, and its points stay clickable (an <img> would not be).
"""
from __future__ import annotations

import html
import io
import os
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.analysis import metrics  # noqa: E402
from bench.analysis.rundata import RATIO  # noqa: E402
from bench.history import changepoints  # noqa: E402
from bench.history.trend import Trend  # noqa: E402
from bench.report.html_page import STYLE  # noqa: E402
from bench.results_format import write_atomic  # noqa: E402

COLORS = {"tcp": "#1f77b4", "mptcp": "#d62728", RATIO: "#6a3d9a"}
CHANGE_COLORS = {"worse": "#d62728", "better": "#2ca02c", "unchanged": "#888888"}
EXTRA_STYLE = """
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(30rem, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5rem; }
figcaption { font-size: 0.9rem; margin-bottom: 0.3rem; }
figure svg { width: 100%; height: auto; }
.worse { color: #b00; } .better { color: #070; }
"""


def _link(report: str | None, out_dir: Path) -> str | None:
    if not report or not Path(report).is_file():
        return None
    return Path(os.path.relpath(report, out_dir)).as_posix()


def chart(t: Trend, out_dir: Path, salt: str) -> str:
    """One series as an inline SVG element."""
    s = t.series
    scale = s.scale()
    med = s.medians * scale
    q1 = np.array([np.percentile(v, 25) for v in s.values]) * scale
    q3 = np.array([np.percentile(v, 75) for v in s.values]) * scale
    x = np.arange(len(med))
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(6.0, 2.2))
        color = COLORS.get(s.protocol, "#333")
        ax.vlines(x, q1, q3, color=color, alpha=0.35, linewidth=2)
        points = ax.scatter(x, med, s=14, color=color, zorder=3)
        points.set_urls([_link(r, out_dir) for r in s.runs["report"]])
        bounds = [0, *(c.index for c in t.changes), len(med)]
        for a, b in zip(bounds, bounds[1:]):
            ax.hlines(np.median(med[a:b]), a - 0.4, b - 0.6, color="#555", linewidth=1)
        for c in t.changes:
            ax.axvline(c.index - 0.5, color=CHANGE_COLORS[c.direction], linestyle="--", linewidth=1.2)
        ax.set_xlim(-0.7, max(len(med) - 0.3, 1))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("run (oldest first)", fontsize=8)
        ax.set_ylabel("MPTCP/TCP" if s.protocol == RATIO else metrics.get(s.metric).unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _change_row(t: Trend, c, out_dir: Path) -> str:
    def run(pos):
        r = t.series.runs.iloc[pos]
        label = html.escape(t.run_label(pos))
        href = _link(r["report"], out_dir)
        return f'<a href="{html.escape(href)}">{label}</a>' if href else label
    return (f"<tr><td>{html.escape(t.series.label())}</td><td>{html.escape(t.series.machine)}</td>"
            f"<td>{run(c.index - 1)}</td><td>{run(c.index)}</td>"
            f'<td class="{c.direction}">{c.change * 100:+.1f} % '
            f"[{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}] {c.direction}</td>"
            f"<td>{c.pvalue:.2g}</td></tr>")


def render(trends: list[Trend], out: Path, store_label: str, n_runs: int) -> str:
    out_dir = out.resolve().parent
    changes = [(t, c) for t in trends for c in t.changes]
    body = ["<h1>mptcp-bench trend</h1>",
            f"<p>History store <code>{html.escape(store_label)}</code>: {n_runs} run(s), "
            f"{len(trends)} series, {len(changes)} change point(s) (Apache Otava, p &lt; "
            f"{changepoints.MAX_PVALUE:g} on "
            "the per-run medians; the change's interval is a bootstrap over the trials of the "
            "segments either side). Each point is a run's median with its interquartile range; "
            "click it for the run's report. Dashed lines are change points: "
            '<span class="worse">worse</span>, <span class="better">better</span>, grey when the '
            "interval includes no change. Written "
            f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}.</p>"]
    body.append("<h2>Change points</h2>")
    if changes:
        body.append("<table><tr><th>series</th><th>machine</th><th>last run before</th>"
                    "<th>first run after</th><th>change [95 % interval]</th><th>p</th></tr>")
        body += [_change_row(t, c, out_dir) for t, c in changes]
        body.append("</table>")
    else:
        body.append("<p>None in any series.</p>")
    groups: dict[tuple, list[Trend]] = {}
    for t in trends:
        groups.setdefault((t.series.machine, t.series.scenario, t.series.driver), []).append(t)
    for i, ((machine, scenario, driver), ts) in enumerate(groups.items()):
        body.append(f"<h2>{html.escape(scenario)} · {html.escape(driver)} · "
                    f"{html.escape(machine)}</h2>\n<div class=\"grid\">")
        for j, t in enumerate(ts):
            caption = html.escape(t.lines()[0])
            body.append(f"<figure><figcaption>{caption}</figcaption>{chart(t, out_dir, f'c{i}x{j}')}"
                        "</figure>")
        body.append("</div>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>mptcp-bench trend</title>\n"
            f"<style>{STYLE}{EXTRA_STYLE}</style>\n</head>\n<body>\n" + "\n".join(body)
            + "\n</body>\n</html>\n")


def write(trends: list[Trend], out: Path, store_label: str, n_runs: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, render(trends, out, store_label, n_runs))
    return out
