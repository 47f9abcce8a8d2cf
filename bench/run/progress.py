"""What a run shows while it goes: a progress bar on stderr and one line per
finished trial, so a stall or a fallback is seen when it happens."""
from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from bench import term
from bench.results_format import REPORT

STATUS_STYLE = {"ok": "green", "fallback": "yellow", "partial": "yellow", "stalled": "yellow",
                "disturbed": "yellow",
                "failed": "red", "unsupported": "magenta", "interrupted": "red"}


def trial_line(rec: dict) -> Text:
    gp = rec.get("goodput_bps")
    cpu = rec.get("cpu_own_s_per_gb")
    label = rec["protocol"].upper()
    if rec.get("driver", "native") != "native":
        label += f"/{rec['driver']}"
    parts = [f"{rec['scenario']:<22}", f"{label:<5}", f"#{rec['repeat']:<3}",
             (f"{rec['status']:<11}", STATUS_STYLE.get(rec["status"], "white"))]
    if gp is not None:
        parts.append(f"{gp / 1e6:9.2f} Mbit/s")
    if cpu is not None:
        parts.append(f"own CPU {cpu:6.3f} s/GB")
    if rec.get("latency_us_p50") is not None:
        parts.append(f"p50 {rec['latency_us_p50']:.1f} µs p99 {rec['latency_us_p99']:.1f} µs "
                     f"{rec['transactions_per_s']:.0f}/s")
    if rec.get("subflows") is not None and rec["protocol"] == "mptcp":
        expected = rec["subflows_expected"]
        parts.append(f"subflows {rec['subflows']}" + (f"/{expected}" if expected else ""))
    attack = rec.get("attack")
    if attack:
        off = attack["verdict"] != attack["expected"]
        parts.append((f"attack {attack['verdict']}" + (f" (expected {attack['expected']})" if off else ""),
                      "red" if off else "white"))
    if rec["status"] != "ok" and rec.get("reason"):
        parts.append(f"— {rec['reason']}")
    return Text(" ").join(Text.assemble(p) for p in parts)


class RunProgress:
    def __init__(self, console: Console | None = None):
        self.console = console or term.console(stderr=True)
        # The description is a scenario's name: text, not markup.
        self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                            MofNCompleteColumn(), TimeRemainingColumn(), console=self.console,
                            transient=True)
        self.task = None

    def start(self, plan, path, done: int = 0) -> None:
        total = plan.trial_count()
        resumed = f" ({done} done before, resumed)" if done else ""
        self.console.print(Text.assemble(
            (f"suite {plan.name}", "bold"), f": {len(plan.scenarios)} scenario(s), {total} trials"
            f"{resumed}, about {plan.estimate_s() / 60:.1f} min → {path}"))
        self.bar.start()
        self.task = self.bar.add_task("starting", total=total, completed=done)

    def scenario(self, s) -> None:
        self.bar.update(self.task, description=f"{s.name}: topology")

    def warmup(self, s, proto: str, rec: dict) -> None:
        self.bar.update(self.task, description=f"{s.name}: warm-up")
        if rec["status"] not in ("ok",):
            self.console.print(f"warm-up {s.name} {proto}: {rec['status']} — {rec['reason']}")

    def calibrated(self, s, driver: str, proto: str, chosen: str, why: str) -> None:
        self.console.print(f"calibrated {s.name} {driver} {proto.upper()}: {chosen} — {why}")

    def trial(self, rec: dict) -> None:
        self.console.print(trial_line(rec))
        self.bar.update(self.task, advance=1, description=rec["scenario"])

    def disturbed(self, rec: dict, again: bool) -> None:
        """A disturbed try (its line, with why, is printed): a re-run takes
        its place on the bar."""
        self.console.print(f"  try {rec['attempt']} disturbed: "
                           + ("running it again" if again else "no re-run left"))
        if again:
            self.bar.update(self.task, advance=-1)

    def reclassified(self, trials: list[dict]) -> None:
        """Trials whose status changed once the whole scenario was seen
        (a stall is judged against the scenario's other trials)."""
        for rec in trials:
            self.console.print(Text.assemble("after the run: ", trial_line(rec)))

    def finish(self, trials: list[dict], path, interrupted: int | None,
               stopped: str | None = None) -> None:
        self.bar.stop()
        counts = Counter(t["status"] for t in trials)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
        state = "interrupted" if interrupted else "stopped" if stopped else "done"
        self.console.print(Text.assemble((state, "bold"), f": {summary}. Report: {path}/{REPORT}"))
        if stopped:
            self.console.print(Text.assemble(("stopped: ", "bold red"), stopped, "\nfinish it "
                                             f"with: python -m bench run --resume {path}"))

    def note(self, text: str) -> None:
        """A line about the run itself (a host lost, reconnecting)."""
        self.console.print(text)
