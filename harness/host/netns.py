"""Network namespaces the project owns: naming, creation, removal, and
running code or commands inside one without touching the root namespace.

Every namespace name starts with PREFIX, followed by the run id, so that
`bench clean` can tell ours from anything else on the machine.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, TypeVar

from harness import _engine
from harness.errors import CapabilityError

log = logging.getLogger(__name__)

PREFIX = "mpb"
KILL_GRACE_S = 2.0     # for the processes of a namespace being destroyed to end
NETNS_DIR = "/run/netns"
T = TypeVar("T")


def path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def create(name: str) -> None:
    if exists(name):
        raise FileExistsError(f"network namespace {name} already exists")
    from pyroute2 import netns as pr_netns  # here: workers import this module, and
                                             # pyroute2 costs them 0.2 s (seconds in a VM)

    def make() -> None:
        # pyroute2's create() forks a child to unshare; a fork from a process
        # with threads can deadlock (seen under load), so a thread does it.
        _engine.unshare_net()
        pr_netns.attach(name, "thread-self")   # bind-mounts it at /run/netns/<name>

    _in_thread(make, f"netns-create:{name}")
    log.info("created namespace %s", name)


def remove(name: str) -> None:
    """Remove the namespace's name; the kernel frees it (and its veths) once
    no process holds it, so callers kill the processes in it first."""
    if exists(name):
        from pyroute2 import netns as pr_netns
        pr_netns.remove(name)
        log.info("removed namespace %s", name)


def destroy(names: list[str]) -> list[int]:
    """End every process inside the namespaces (SIGTERM, then SIGKILL, each
    given KILL_GRACE_S to take effect), then remove them; the PIDs found."""
    pids = list(pids_in(names))
    if pids:
        log.info("ending process(es) %s left in %s", " ".join(map(str, pids)), " ".join(names))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if _emptied(names, KILL_GRACE_S):
            break
    for name in names:
        remove(name)
    return pids


def _emptied(names: list[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pids_in(names):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def list_names() -> list[str]:
    """The project's namespaces on this machine."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX + "-"))
    except FileNotFoundError:
        return []


def inode(name: str) -> int:
    return os.stat(path(name)).st_ino


def pids_in(names: list[str]) -> dict[int, str]:
    """PIDs of processes whose network namespace is one of `names`."""
    wanted = {}
    for n in names:
        try:
            wanted[inode(n)] = n
        except FileNotFoundError:
            pass
    found = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ino = os.stat(f"/proc/{entry}/ns/net").st_ino
        except OSError:
            continue
        if ino in wanted:
            found[int(entry)] = wanted[ino]
    return found


def _in_thread(fn: Callable[[], T], label: str) -> T:
    """Run fn in a short-lived thread; its result or its exception here."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=label)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@contextlib.contextmanager
def opened(name: str):
    """A file descriptor of namespace `name`, closed on leaving."""
    fd = os.open(path(name), os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def enter(name: str) -> None:
    """Move the calling thread into namespace `name`."""
    with opened(name) as fd:
        _engine.setns(fd)


def call_in(name: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run fn in a short-lived thread that has entered namespace `name`.

    setns(CLONE_NEWNET) changes only the calling thread, so the orchestrator
    never leaves the root namespace.  Inside fn, /proc/sys/net reflects the
    namespace; /proc/net must be read as /proc/thread-self/net.  A socket
    made there stays in the namespace wherever it is used afterwards.
    """
    def entered() -> T:
        enter(name)
        return fn(*args, **kwargs)

    return _in_thread(entered, f"netns:{name}")


def call_in_new(fn: Callable[[], T], what: str) -> T:
    """Run fn in a short-lived thread inside a new, nameless network
    namespace, gone with the thread: nothing to name, clean or leak.
    Without the privilege to make one: CapabilityError naming `what`."""
    def inside() -> T:
        _engine.unshare_net()
        return fn()

    try:
        return _in_thread(inside, f"new-netns:{what}")
    except PermissionError:
        raise CapabilityError(f"{what} needs a network namespace of its own: run as root") \
            from None


NETLINK_ROUTE, NETLINK_GENERIC = 0, 16


def _netlink_fd(name: str, protocol: int) -> int:
    sock = call_in(name, socket.socket, socket.AF_NETLINK, socket.SOCK_DGRAM, protocol)
    return sock.detach()


def netlink_socket(name: str, protocol: int) -> socket.socket:
    """A plain netlink socket of `protocol` opened inside namespace `name`."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, protocol,
                         fileno=_netlink_fd(name, protocol))


def iproute(name: str):
    """pyroute2 IPRoute on namespace `name`.  Its socket is opened by a thread
    inside the namespace: pyroute2's own netns= forks a child per socket,
    which can hang a process that has threads."""
    from pyroute2 import IPRoute
    return IPRoute(fileno=_netlink_fd(name, NETLINK_ROUTE))


def mptcp_pm(name: str):
    """pyroute2's MPTCP path-manager (generic netlink) socket on `name`."""
    from pyroute2.netlink.generic.mptcp import MPTCP
    return MPTCP(fileno=_netlink_fd(name, NETLINK_GENERIC))


def command(name: str, argv: list[str]) -> list[str]:
    """argv wrapped to run inside namespace `name`."""
    return ["nsenter", f"--net={path(name)}", "--", *argv]


def run(name: str, argv: list[str], input: str | None = None, timeout: float = 30) -> str:
    """Run a command inside the namespace; raise with its stderr on failure."""
    proc = subprocess.run(command(name, argv), input=input, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc.stdout
