"""Where a trial runs, as the trial sees it.  `Site` is the contract that
both a topology of namespaces on this machine (`LocalSite`) and real hosts
over SSH (bench.hosts.lane.HostsTopology) fulfil; drivers, the trial run and
the orchestrator use only what it names, and never ask a site what it is."""
from __future__ import annotations

import contextlib
import json
from typing import Protocol, runtime_checkable

from harness.errors import CapabilityError
from harness.host import procs, sysctl
from harness.measure import cpustat, mib, sockdiag
from harness.net.events import EventRunner
from harness.net.spec import DelayBackend, LinkEvent
from harness.net.topology import ROLES, Topology


class Watch(Protocol):
    """sock_diag of one end's sockets on the test's port, while it runs."""

    def __enter__(self) -> "Watch": ...
    def __exit__(self, *exc) -> None: ...
    def listening(self) -> bool: ...
    def view(self) -> dict | None: ...


@runtime_checkable
class Site(Protocol):
    local: bool                          # the trial's processes and CPU are this machine's
    owner: str | None                    # names what a trial makes here (its cgroup)
    delay_backend: DelayBackend | None   # in use on this site's links; None without delay
    delay_line: object | None            # the host delay line, when one runs here
    path_manager: str                    # the client's: kernel | userspace
    pm_daemon_pid: int | None            # the userspace PM's daemon (mptcpd), when one runs here

    def ns(self, role: str) -> str | None: ...
    def client_address(self, family: int, link: int = 0) -> str: ...
    def server_address(self, family: int, link: int = 0) -> str: ...
    def read_back(self, sysctls: tuple[str, ...]) -> dict: ...
    def offloads(self) -> dict | None: ...
    def mib_snapshot(self, side: str) -> dict: ...
    def cpu_read(self) -> dict: ...
    def start_worker(self, role: str, cfg: dict, label: str): ...
    def start_command(self, side: str, argv: list[str], label: str): ...
    def socket_watch(self, side: str, family: int, port: int) -> Watch: ...
    def link_events(self, events: tuple[LinkEvent, ...]): ...


class LocalWatch:
    """sock_diag of one end's namespace, read from here."""

    def __init__(self, ns: str, family: int, port: int, side: str):
        self.ns, self.family, self.port, self.side = ns, family, port, side

    def __enter__(self) -> "LocalWatch":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def listening(self) -> bool:
        return sockdiag.listening(self.ns, self.family, self.port)

    def view(self) -> dict | None:
        return sockdiag.socket_view(sockdiag.connections(self.ns, self.family), self.port, self.side)


class LocalSite:
    """A Topology of namespaces on this machine (entered), as a trial sees it."""

    local = True

    def __init__(self, topo: Topology):
        self.topo = topo
        self.owner = topo.prefix
        self.delay_backend = topo.delay_backend
        self.delay_line = topo.delay_line
        self.path_manager = topo.spec.path_manager
        self.pm_daemon_pid = topo.mptcpd.proc.pid if topo.mptcpd else None

    def ns(self, role: str) -> str:
        return self.topo.ns(role)

    def client_address(self, family: int, link: int = 0) -> str:
        return self.topo.client_address(family, link)

    def server_address(self, family: int, link: int = 0) -> str:
        return self.topo.server_address(family, link)

    def read_back(self, sysctls: tuple[str, ...]) -> dict:
        """The topology as the kernel reports it, and `sysctls` in every namespace."""
        return {**self.topo.read_back(),
                "sysctls": {role: sysctl.read(self.topo.ns(role), sysctls) for role in ROLES}}

    def offloads(self) -> dict:
        return self.topo.offloads()

    def mib_snapshot(self, side: str) -> dict:
        return mib.snapshot(self.topo.ns(side))

    def cpu_read(self) -> dict:
        return cpustat.read()

    def start_worker(self, role: str, cfg: dict, label: str) -> procs.Worker:
        return procs.Worker(procs.python_module("harness.traffic.worker", json.dumps(cfg)), label)

    def start_command(self, side: str, argv: list[str], label: str) -> procs.Worker:
        return procs.Worker(argv, label)

    def socket_watch(self, side: str, family: int, port: int) -> LocalWatch:
        return LocalWatch(self.topo.ns(side), family, port, side)

    def link_events(self, events: tuple[LinkEvent, ...]) -> EventRunner:
        return EventRunner(self.topo, tuple(events))


@contextlib.contextmanager
def local(spec, prefix: str):
    """A topology built on this machine for the block, as a Site."""
    with Topology(spec, prefix) as topo:
        yield LocalSite(topo)


class NoLinkEvents:
    """What a site that cannot change its links offers: an empty schedule."""

    def __init__(self, events: tuple[LinkEvent, ...], where: str):
        if events:
            raise CapabilityError(f"link events do not run {where}")
        self.applied: list = []

    def __enter__(self) -> "NoLinkEvents":
        return self

    def start(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass
