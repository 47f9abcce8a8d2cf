"""Scheduled link events during a trial (a path failing, recovering, or its
rate collapsing), applied from a timer thread and always undone after.

Times count from the moment the client connected (start()): a VM lane's
emulated CPU takes seconds to start a worker, which must not move an event
before the transfer.  An event at 0 s is the state the connection starts
in: applied on entering, before any worker.  Each applied event records its
CLOCK_MONOTONIC time so a record can place it on the receiver's series.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict
from typing import Protocol

from harness.attack import kinds
from harness.net import linkctl, middlebox
from harness.net.spec import LinkEvent

ATTACK = "attack"


def apply(topo, ev: LinkEvent) -> None:
    if ev.action == "strip_mptcp":
        middlebox.strip(topo.ns("router"), ev.link)
    elif ev.action == "down":
        linkctl.set_state(topo, ev.link, False)
    elif ev.action == "up":
        linkctl.set_state(topo, ev.link, True)
    elif ev.action in ("readdress", "readdress_pm"):
        linkctl.readdress(topo, ev.link, tell_pm=ev.action == "readdress_pm")
    elif ev.action == "rate":
        linkctl.set_rate(topo, ev.link, ev.rate_mbit, ev.direction)
    else:
        raise ValueError(f"unknown link event {ev.action!r}")


class LinkActions(Protocol):
    """What changes a site's links for the runner."""

    lead_s: float      # an event is handed over this long before its time

    def now_ns(self) -> int:
        """Now on the receiver's CLOCK_MONOTONIC (what an event's `at_ns` is on)."""
    def apply(self, ev: LinkEvent, due_ns: int | None) -> dict | None:
        """Apply one event at `due_ns` (this machine's CLOCK_MONOTONIC; None:
        now); what to put in its record instead of the runner's own (e.g.
        the time it took effect), or None."""
    def restore(self, link: int, stripped: bool) -> None:
        """The link as the scenario has it (`stripped`: an event started a middlebox on it)."""


class LocalLinks:
    """Link events on a local topology's router namespace."""

    lead_s = 0.0       # applied here and now

    def __init__(self, topo):
        self.topo = topo

    def now_ns(self) -> int:
        return time.monotonic_ns()      # one machine, one clock

    def apply(self, ev: LinkEvent, due_ns: int | None = None) -> None:
        apply(self.topo, ev)

    def restore(self, link: int, stripped: bool) -> None:
        linkctl.restore(self.topo, link)
        if stripped:
            middlebox.strip(self.topo.ns("router"), link, on=False)


class EventRunner:
    """Use as a context manager around a trial.  An attack's attacker
    starts on entering (it must see the connection open) and attacks at
    its time; what it reports is the event's `result`."""

    def __init__(self, topo, events: tuple[LinkEvent, ...], links: LinkActions | None = None):
        self.topo, self.events = topo, tuple(sorted(events, key=lambda e: e.at_s))
        self.links = links or LocalLinks(topo)
        self.applied: list[dict] = []
        self._stop = threading.Event()
        self._started = False
        self._thread = threading.Thread(target=self._run, name="link-events", daemon=True)
        self._attackers: dict[int, object] = {}
        self._results: dict[int, dict] = {}

    def __enter__(self) -> "EventRunner":
        from harness.attack.launch import Attacker
        try:
            for i, ev in enumerate(self.events):
                if ev.action == ATTACK and ev.attack not in kinds.MIDDLEBOX:
                    self._attackers[i] = Attacker(self.topo, ev.attack, ev.count, ev.rate_pps).__enter__()
            for ev in self.events:
                if ev.at_s == 0:
                    self._apply(ev)
        except BaseException:
            self._end_attackers()
            raise
        return self

    def start(self) -> None:
        """The client connected: later events count from now (once)."""
        if not self._thread.is_alive() and not self._started and self.events:
            self._started, self._t0 = True, time.monotonic()
            self._thread.start()

    def _apply(self, ev: LinkEvent, due_ns: int | None = None) -> None:
        record = {**asdict(ev), "at_ns": self.links.now_ns(), "error": None}
        try:
            if ev.action == ATTACK and ev.attack in kinds.MIDDLEBOX:
                middlebox.alter(self.topo.ns("router"), ev.link, ev.count)
                self._results[self.events.index(ev)] = record["result"] = {"kind": ev.attack, "sent": 0}
            elif ev.action == ATTACK:
                i = self.events.index(ev)
                self._results[i] = record["result"] = self._attackers[i].go()
            else:
                record.update(self.links.apply(ev, due_ns) or {})
        except Exception as exc:  # recorded with the trial, never silent
            record["error"] = str(exc)
        self.applied.append(record)

    def _end_attackers(self) -> None:
        for i, ev in enumerate(self.events):
            if ev.action == ATTACK and ev.attack in kinds.MIDDLEBOX and i in self._results:
                self._results[i]["sent"] = middlebox.altered(self.topo.ns("router"))
        for i, attacker in self._attackers.items():
            final = attacker.finish() if i in self._results else None
            attacker.__exit__(None, None, None)
            if i in self._results:
                self._results[i].update(final or {})
                self._results[i]["attacker_cpu_s"] = attacker.cpu_s()

    def _run(self) -> None:
        for ev in self.events:
            if ev.at_s == 0:
                continue
            lead = self.links.lead_s if ev.action != ATTACK else 0.0
            if self._stop.wait(max(0.0, self._t0 + ev.at_s - lead - time.monotonic())):
                return
            self._apply(ev, int((self._t0 + ev.at_s) * 1e9))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._end_attackers()
        stripped = {rec["link"] for rec in self.applied
                    if rec["action"] == "strip_mptcp" and not rec["error"]}
        for link in sorted({ev.link for ev in self.events if ev.action != ATTACK}):
            self.links.restore(link, link in stripped)
