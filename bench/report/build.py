"""report.md and report.html: the answer first, then per-scenario tables
and figures, trial outcomes, send modes, and what the run ran on.

Rendered from the results document only, so `bench report RUN_DIR` gives
the same text as the run did.  Figures are drawn when their data exists
and only then linked; report.html is report.md rendered with the figures
embedded (bench.report.html_page).
"""
from __future__ import annotations

from pathlib import Path

from bench import names
from bench.analysis import resolution, summary
from bench.analysis.metrics import HEADLINE, METRICS
from bench.analysis.summary import RunData
from bench.report import (
    blackhole,
    contention,
    cpu_answer,
    driver_crosscheck,
    handover,
    hosts,
    html_page,
    machine,
    md,
    paths,
    pm,
    profile,
    scaling,
    sections,
    security,
)
from bench.results_format import REPORT, write_atomic

PLOTS = "plots"
OVERVIEW_METRICS = ("goodput_bps", "cpu_own_s_per_gb", "latency_us_p50", "latency_us_p99")


def _plots():
    """matplotlib is imported when a figure is drawn, not by every command
    that imports this module (it also wants a writable config directory)."""
    from bench.report import plots
    return plots


class Report:
    """One run's report: markdown lines plus the PNG figures they link."""

    def __init__(self, run: RunData):
        self.run, self.doc = run, run.doc
        # The main answer uses the plan's first driver; the others are the
        # cross-check section's (bench.report.driver_crosscheck).
        self.df = driver_crosscheck.primary(run.trials, self.doc)
        self.desc = summary.describe(self.df)
        self.counts = summary.status_counts(self.df)
        # Looked up thousands of times while rendering: indexed once.
        self._stats = _index(self.desc, ("scenario", "driver", "protocol", "metric"))
        self._counts = _index(self.counts, ("scenario", "driver", "protocol"))
        self._floors = _index(resolution.floors(self.df), ("scenario", "driver", "metric"))
        self._limits = self.df.groupby(["scenario", "driver", "protocol"], dropna=False)[
            "expected_goodput_bps"].first().to_dict()
        self.several = self.df["driver"].nunique(dropna=False) > 1
        self.figures: dict[str, bytes] = {}

    def figure(self, name: str, alt: str, png: bytes | None, suffix: str = ".png") -> list[str]:
        if png is None:
            return []
        path = names.file_in(PLOTS, name, suffix).as_posix()
        self.figures[path] = png
        return ["", f"![{md.text(alt)}]({path})", ""]

    def stat(self, scenario, driver, protocol, metric) -> dict | None:
        return self._stats.get((scenario, driver, protocol, metric))

    def floor(self, scenario, driver, metric) -> dict | None:
        """What the machine resolves of an own-CPU metric (bench.analysis.resolution)."""
        return self._floors.get((scenario, driver, metric))

    def count(self, scenario, driver, protocol) -> dict | None:
        return self._counts.get((scenario, driver, protocol))

    def limit(self, scenario, driver, protocol) -> float | None:
        """The link model's goodput limit for these trials, if it gives one."""
        value = self._limits.get((scenario, driver, protocol))
        return None if sections.missing(value) or not value else value

    def pairs(self):
        """(scenario, driver) in the run's scenario order."""
        order = {name: i for i, name in enumerate(self.doc["scenarios"])}
        keys = self.df[["scenario", "driver"]].drop_duplicates().itertuples(index=False)
        return sorted(keys, key=lambda k: order.get(k[0], len(order)))

    def title(self, scenario, driver) -> str:
        return md.text(f"{scenario} ({driver})" if self.several else scenario)

    # -- the answer --------------------------------------------------------
    def headline(self, scenario, driver) -> str:
        entry = self.doc["scenarios"].get(scenario, {})
        parts = []
        for name in HEADLINE:
            first = not parts
            text = cpu_answer.part(self, scenario, driver, name, _subject(entry) * first,
                                   _against(entry) * first)
            if text:
                parts.append(text + self._after(name, entry, scenario, driver))
        learned = sections.learned_addresses(self.doc["trials"], scenario, driver)
        if learned:
            parts.append(learned)
        blackholed = blackhole.connects(self.doc, scenario, driver)
        if blackholed:
            parts.append(blackholed)
        restored = handover.restored(self.doc["trials"], scenario, driver)
        if restored:
            parts.append(restored)
        retried = sections.tcp_retries(self.doc["trials"], scenario, driver)
        if retried:
            parts.append(retried)
        elif not parts and self.count(scenario, driver, "mptcp") and self.count(scenario, driver, "tcp"):
            parts.append("no repeat with both its TCP and MPTCP trial ok, so no ratio")
        proto = "mptcp" if self.count(scenario, driver, "mptcp") else "tcp"
        parts.append(sections.counts_text(self.count(scenario, driver, proto), proto))
        noisy = self._noisy(scenario, driver)
        if noisy:
            parts.append(f"spread too high to conclude ({', '.join(noisy)} IQR above "
                         f"{summary.HIGH_SPREAD:.0%} of the median)")
        return f"- **{self.title(scenario, driver)}**: " + "; ".join(parts)

    def _after(self, name: str, entry: dict, scenario, driver) -> str:
        """After goodput, how near MPTCP came to its links' limit; after own
        CPU/GB, which comparison it states (bench.report.cpu_answer)."""
        if name == "cpu_own_s_per_gb":
            return cpu_answer.rates(self, scenario, driver)
        limit = self.limit(scenario, driver, "mptcp") if name == "goodput_bps" else None
        if not limit:
            return ""
        mptcp = self.stat(scenario, driver, "mptcp", name)
        # The links that carry MPTCP's data: no more than its subflows.
        n_links = min(len(entry.get("definition", {}).get("links", [])),
                      entry.get("expected_subflows") or 1)
        return f", {mptcp['median'] / limit:.0%} of the {n_links}-link limit"

    def _noisy(self, scenario, driver) -> list[str]:
        out = []
        for name in HEADLINE[:2]:
            for proto in ("tcp", "mptcp"):
                s = self.stat(scenario, driver, proto, name)
                if s and not sections.missing(s["rel_iqr"]) and s["rel_iqr"] > summary.HIGH_SPREAD:
                    out.append(f"{proto.upper()} {METRICS[name].label}")
        return out

    def headlines(self) -> list[str]:
        """The one-line answer per scenario (and driver), skipped ones too."""
        out = [self.headline(scenario, driver) for scenario, driver in self.pairs()
               if self.doc["scenarios"].get(scenario, {}).get("state") != "skipped"]
        return out + [f"- **{md.text(name)}**: skipped — {md.text(entry.get('reason'))}"
                      for name, entry in self.doc["scenarios"].items()
                      if entry.get("state") == "skipped"]

    def answer(self) -> list[str]:
        return (["## Answer", "",
                 "MPTCP against TCP, median of the per-repeat ratios with a bootstrap 95 % interval:",
                 ""] + self.headlines() +
                self.figure("overview", "TCP vs MPTCP medians with 95 % CIs",
                            _plots().bars(self.desc, OVERVIEW_METRICS)))

    # -- where the cycles go (run --profile) -------------------------------
    def profile(self, scenario: str) -> list[str]:
        driver = next((d for s, d in self.pairs() if s == scenario), None)
        out = profile.table(self.doc, scenario, driver) if driver else []
        if not out or self.run.path is None:
            return out
        for proto in ("tcp", "mptcp"):
            trials = profile.trials_with_profiles(self.doc, scenario, driver, proto)
            svg = profile.flame_svg(profile.merged_stacks(self.run.path, trials),
                                    f"{scenario}: {proto.upper()}, {len(trials)} trial(s)")
            out += self.figure(f"{scenario}-flame-{proto}",
                               f"{scenario}: where {proto.upper()}'s CPU went", svg, ".svg")
        return out

    # -- per scenario ------------------------------------------------------
    def scenario(self, name: str, entry: dict) -> list[str]:
        d = entry["definition"]
        out = ["", f"## {md.text(name)}", "", md.text(d["description"]) + ".", "",
               f"{len(d['links'])} link(s); CPU placement {md.text(d['cpu']['placement'])}; "
               f"{md.text(entry['expected_subflows'])} MPTCP subflow(s) expected."]
        if entry.get("state") == "skipped":
            return out + ["", f"Skipped: {md.text(entry.get('reason'))}"]
        for scenario, driver in self.pairs():
            if scenario != name:
                continue
            if self.several:
                out += ["", f"### driver {md.text(driver)}"]
            out += [""] + sections.metric_table(self, scenario, driver)
            out += cpu_answer.floor_lines(self, scenario, driver)
            out += sections.per_flow(self.doc["trials"], scenario, driver)
            out += sections.privacy(self.doc["trials"], scenario, driver)
            out += paths.section(self.doc, scenario, driver)
        out += sections.calibration(entry)
        out += self.profile(name)
        out += sections.not_ok(self.doc["trials"], name, self.several)
        out += self.figure(f"{name}-goodput", f"{name}: goodput over time",
                           _plots().timeseries(self.doc, name))
        out += self.figure(f"{name}-latency", f"{name}: latency CDF",
                           _plots().latency_cdf(self.run.latency, name))
        if paths.applies(entry):
            out += self.figure(f"{name}-subflow-shares", f"{name}: subflow shares over time",
                               _plots().subflow_shares(self.doc, name))
        return out

    def markdown(self) -> str:
        trials, meta = self.doc["trials"], self.doc["metadata"]
        suite = meta.get("suite", {})
        out = [f"# mptcp-bench run {md.text(self.doc['run_id'])}", "",
               f"Suite **{md.text(suite.get('name'))}** — {md.text(suite.get('description'))}. "
               f"{len(trials)} trials, {md.text(suite.get('repeat'))} paired repeats per scenario, "
               f"driver {md.text(suite.get('driver'))}, run {md.text(self.doc['state'])}.", ""]
        out += hosts.section(self.doc)     # a hosts run's first: where it ran, what the paths carry
        out += machine.section(self.doc)
        if self.df.empty:
            out += ["No trial finished.", ""]
        else:
            out += self.answer()
            out += ["", "## Trial outcomes", ""] + sections.outcome_table(self.counts, self.several)
            out += sections.send_modes(trials)
            out += contention.section(self.doc, self.pairs()[0][1])
            out += scaling.section(self, self.pairs()[0][1])
            out += pm.section(self, self.pairs()[0][1])
            out += security.section(self.doc)
        for name, entry in self.doc["scenarios"].items():
            out += self.scenario(name, entry)
        out += [""] + driver_crosscheck.section(self.doc) + driver_crosscheck.speed_section(self.doc)
        out += sections.socket_options(meta)
        out += sections.metadata_section(meta) + sections.appendix(self.doc) + [""]
        return "\n".join(out)


def _subject(entry: dict) -> str:
    """Who "MPTCP" is in a headline: the connection, or (with the scenario's
    client_protocol) the listener that TCP clients meet."""
    client = (entry.get("definition") or {}).get("client_protocol")
    return f"a server's MPTCP listener (its clients {client.upper()}): " if client else "MPTCP "


def _against(entry: dict) -> str:
    return " of a TCP listener's" if (entry.get("definition") or {}).get("client_protocol") \
        else " of TCP"


def markdown(doc: dict) -> str:
    return Report(RunData(doc)).markdown()


def write(run: RunData, out: Path | None = None) -> list[Path]:
    """report.md, its figures under plots/, and the self-contained
    report.html, into the run directory (or `out`)."""
    out = Path(out or run.path)
    rep = Report(run)
    text = rep.markdown()
    (out / PLOTS).mkdir(exist_ok=True)
    written = []
    for rel, png in rep.figures.items():
        (out / rel).write_bytes(png)
        written.append(out / rel)
    write_atomic(out / REPORT, text)
    write_atomic(out / "report.html", html_page.render(text, rep.figures,
                                                  title=f"mptcp-bench run {run.run_id}"))
    return [out / REPORT, out / "report.html", *written]


def write_doc(path: Path, doc: dict) -> None:
    """The orchestrator's entry point at the end of a run."""
    write(RunData(doc, Path(path)))


def _index(frame, keys: tuple[str, ...]) -> dict[tuple, dict]:
    """Rows of `frame` as dicts, by their values of `keys` (the first row wins)."""
    out: dict[tuple, dict] = {}
    for row in frame.to_dict("records"):
        out.setdefault(tuple(row[k] for k in keys), row)
    return out
