"""The iperf3 driver: a second, independent implementation of the same bulk
transfer, to cross-check the native engine.

A one-off server (`-s -1`) in the server namespace, a client (`-c … -J
--get-server-output`) in the client namespace bound to the link's client
address.  MPTCP through `--mptcp` on iperf3 3.19 or newer, otherwise
through `mptcpize run` (LD_PRELOAD) on both ends.  This module builds the
commands and runs them; iperf3_json turns the output into the raw result.

iperf3's sockets are not ours to getsockopt(), so the truth checks get
their socket views from sock_diag, sampled in both namespaces while the
test runs; with the MIB counters that trialrun takes in both namespaces,
bench.record.trial verifies an "MPTCP" iperf3 test exactly as a native one.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import shutil
import time

from harness.errors import CapabilityError
from harness.host import procs
from harness.host.netns import command
from harness.net import capabilities
from harness.traffic.drivers import TrialParams, iperf3_json, register

SAMPLE_S = 0.25              # sock_diag sampling period while a test runs
LISTEN_TIMEOUT_S = 10.0
MIN_INTERVAL_S = 0.1         # iperf3 refuses shorter reporting intervals
# A fresh port per test: a server left over from an earlier test can never
# answer a later one (a plain-TCP listener would silently make an MPTCP
# client fall back).
_ports = itertools.count()


@functools.lru_cache(maxsize=None)
def installed_version() -> tuple[int, int] | None:
    return iperf3_json.parse_version(capabilities.tool_version("iperf3"))


def mptcp_method() -> str:
    """How this iperf3 does MPTCP: "--mptcp" (3.19+) or "mptcpize"."""
    return iperf3_json.mptcp_method(installed_version())


@register
class Iperf3Driver:
    name = "iperf3"
    last_document: dict | None = None    # the last test's JSON, for capture tools

    def check(self) -> None:
        version = installed_version()
        if version is None:
            raise CapabilityError("the iperf3 driver needs iperf3, which is not on PATH: "
                                  "install the Debian package iperf3")
        if mptcp_method() == "mptcpize" and not shutil.which("mptcpize"):
            raise CapabilityError(
                f"the iperf3 driver needs mptcpize for MPTCP with iperf3 "
                f"{version[0]}.{version[1]} (--mptcp came in 3.19), and it is not on PATH: "
                "install the Debian package mptcpize")

    def run(self, topo, params: TrialParams, started=None) -> dict:
        port = 5201 + next(_ports) % 1000
        deadline = time.monotonic() + params.deadline_s()
        argv = {"server": server_argv(topo, params, port), "client": client_argv(topo, params, port)}
        with _watches(topo, params, port) as watches, \
                topo.start_command("server", argv["server"], "iperf3 server") as server:
            if not _await_listening(watches["server"], server):
                return _failure(server, "did not start listening", argv)
            with topo.start_command("client", argv["client"], "iperf3 client") as client:
                if started:      # iperf3 says nothing before its end: from its start
                    started()
                views = _run_sampling(watches, client, deadline)
                # Its exit can be seen before its pipe is empty (a -P run's
                # JSON is large): read the rest before parsing it.
                client.wait(min(deadline, time.monotonic() + 10))
                if client.proc.returncode is None:
                    return _failure(client, f"did not finish within {params.deadline_s():.0f} s",
                                    argv, errno="ETIMEDOUT")
            server.wait(time.monotonic() + 5)
        raw = _result(client, server, views, params, argv)
        self.last_document = raw.pop("document", None)
        return raw


def _wrap(argv: list[str], ns: str | None, mptcp: bool) -> list[str]:
    """argv run in namespace `ns`, made MPTCP if asked, and killed by the
    kernel if the orchestrator dies (on another host, ns None: its lease
    does that, bench.hosts)."""
    if mptcp:
        if mptcp_method() == "--mptcp":
            argv = [*argv, "--mptcp"]
        else:
            argv = ["mptcpize", "run", *argv]
    return procs.dying_with_parent(command(ns, argv)) if ns else argv


@contextlib.contextmanager
def _watches(topo, p: TrialParams, port: int):
    """Per side, what sees the test's sockets: here, or on the host (bench.hosts)."""
    with contextlib.ExitStack() as stack:
        yield {side: stack.enter_context(topo.socket_watch(side, p.family, port))
               for side in ("client", "server")}


def _affinity(cpu: int | None) -> list[str]:
    return [] if cpu is None else ["-A", str(cpu)]


def interval_s(p: TrialParams) -> float:
    return max(MIN_INTERVAL_S, p.interval_ms / 1000)


def server_argv(topo, p: TrialParams, port: int) -> list[str]:
    # A plain-TCP server under an MPTCP client (server_protocol "tcp") is
    # the silent fallback the truth checks must catch.
    mptcp = (p.server_protocol or p.protocol) == "mptcp"
    argv = ["iperf3", "-s", "-1", "-J", "-B", topo.server_address(p.family, p.link),
            "-p", str(port), "-i", f"{interval_s(p):g}", *_affinity(p.cpu_receiver)]
    return _wrap(argv, topo.ns("server"), mptcp)


def client_argv(topo, p: TrialParams, port: int) -> list[str]:
    # iperf3 3.12 reads -t as whole seconds: round up, never down to 0.
    amount = (["-n", str(p.max_bytes)] if p.max_bytes
              else ["-t", str(max(1, math.ceil(p.duration_s)))])
    argv = ["iperf3", "-c", topo.server_address(p.family, p.link), "-p", str(port),
            "-B", topo.client_address(p.family, p.link), "-J", "--get-server-output",
            "-l", str(p.bufsize), "-i", f"{interval_s(p):g}", *amount,
            *(["-P", str(p.flows)] if p.flows > 1 else []), *_affinity(p.cpu_sender)]
    return _wrap(argv, topo.ns("client"), p.protocol == "mptcp")


def _await_listening(watch, server) -> bool:
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while time.monotonic() < deadline and server.proc.poll() is None:
        if watch.listening():
            return True
        time.sleep(0.01)
    return False


def _run_sampling(watches: dict, client, deadline: float) -> dict:
    """Wait for the client, sampling both ends' sockets; the last view of
    each end that saw the test's connection is kept (by then every subflow
    the path manager made is there)."""
    views: dict = {"client": None, "server": None}
    while client.wait(min(deadline, time.monotonic() + SAMPLE_S)) is None:
        if time.monotonic() >= deadline:
            break
        for side in views:
            views[side] = watches[side].view() or views[side]
    return views


def _unobserved(side: str) -> dict:
    return {"so_protocol": None, "source": "sock_diag",
            "unobserved": f"sock_diag never saw the {side}'s connection"}


def _result(client: procs.Worker, server: procs.Worker, views: dict, p: TrialParams,
            argv: dict) -> dict:
    text = client.stdout_text()
    try:
        doc = json.loads(text)
    except ValueError:
        return _failure(client, f"wrote no JSON ({text.strip()[:200] or 'no output'})", argv)
    raw = iperf3_json.to_raw(doc, interval_s(p))
    raw["document"] = doc
    raw["tool"].update(commands=argv, mptcp_method=mptcp_method()
                       if p.protocol == "mptcp" else None)
    if raw["error"]:
        return raw
    for role, worker, side in (("sender", client, "client"), ("receiver", server, "server")):
        raw[role]["cpu_s"] = worker.cpu_s()
        raw[role]["info"] = views[side] or _unobserved(side)
    return raw


def _failure(worker: procs.Worker, what: str, argv: dict, errno: str | None = None) -> dict:
    if worker.proc.poll() is not None and worker.proc.returncode != 0:
        what = worker.exit_summary()
    side = "receiver" if worker.label.endswith("server") else "sender"
    return {"sender": None, "receiver": None, "tool": {"name": "iperf3", "commands": argv},
            "error": {"call": worker.label, "errno": errno, "side": side,
                      "message": f"the {worker.label} {what}"}}
