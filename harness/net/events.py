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

from harness.net import linkctl, middlebox
from harness.net.spec import LinkEvent


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


class EventRunner:
    """Use as a context manager around a trial."""

    def __init__(self, topo, events: tuple[LinkEvent, ...]):
        self.topo, self.events = topo, tuple(sorted(events, key=lambda e: e.at_s))
        self.applied: list[dict] = []
        self._stop = threading.Event()
        self._started = False
        self._thread = threading.Thread(target=self._run, name="link-events", daemon=True)

    def __enter__(self) -> "EventRunner":
        for ev in self.events:
            if ev.at_s == 0:
                self._apply(ev)
        return self

    def start(self) -> None:
        """The client connected: later events count from now (once)."""
        if not self._thread.is_alive() and not self._started and self.events:
            self._started, self._t0 = True, time.monotonic()
            self._thread.start()

    def _apply(self, ev: LinkEvent) -> None:
        record = {**asdict(ev), "at_ns": time.monotonic_ns(), "error": None}
        try:
            apply(self.topo, ev)
        except Exception as exc:  # recorded with the trial, never silent
            record["error"] = str(exc)
        self.applied.append(record)

    def _run(self) -> None:
        for ev in self.events:
            if ev.at_s == 0:
                continue
            if self._stop.wait(max(0.0, self._t0 + ev.at_s - time.monotonic())):
                return
            self._apply(ev)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for link in sorted({ev.link for ev in self.events}):
            linkctl.restore(self.topo, link)
        for rec in self.applied:
            if rec["action"] == "strip_mptcp" and not rec["error"]:
                middlebox.strip(self.topo.ns("router"), rec["link"], on=False)
