"""What every workload's two ends share: JSON-line output, sockets set up
the same way for TCP and MPTCP, CPU windows, and threads whose failures
reach the caller."""
from __future__ import annotations

import contextlib
import errno
import json
import resource
import socket
import sys
import threading
import time

from harness.measure import cpustat, owncpu
from harness.traffic import engine

DONE = b"\x01"
IP_BIND_ADDRESS_NO_PORT = 24     # linux/in.h
SOCKET_TIMEOUT_S = 0.2


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def syscall(name: str, fn, *args):
    """Run one socket call; a failure names the call and its errno."""
    try:
        return fn(*args)
    except OSError as exc:  # socket.timeout carries no errno
        raise engine.EngineError(name, exc.errno or errno.ETIMEDOUT) from None


def rusage_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# Descriptors a worker holds beside its connections: stdio, the listener,
# epoll and eventfd, what Python and the sampler open.
FD_MARGIN = 64


def fd_room(connections: int) -> None:
    """Raise this worker's own soft RLIMIT_NOFILE (never the host's) so that
    it can hold `connections` sockets; refuse in one sentence when the hard
    limit cannot."""
    need = connections + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or need <= soft:
        return
    if hard != resource.RLIM_INFINITY and need > hard:
        raise engine.EngineError(
            "setrlimit(RLIMIT_NOFILE)", errno.EMFILE, unsupported=True,
            detail=f"{connections} connections need {need} file descriptors and the "
                   f"worker's hard limit (RLIMIT_NOFILE) is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def listen(cfg: dict) -> socket.socket:
    """A listener in blocking mode whose accept() waits at most
    SOCKET_TIMEOUT_S, so that a C loop can accept on it too."""
    lsock = engine.open_socket(cfg["protocol"], cfg["family"])
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    syscall("bind", lsock.bind, (cfg["listen"], 0))
    # A backlog for every connection of the trial: they arrive at once.
    syscall("listen", lsock.listen, max(128, cfg.get("flows", 1)))
    engine.set_timeouts(lsock, SOCKET_TIMEOUT_S)
    return lsock


def accept(lsock: socket.socket, timeout_s: float) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn, _ = lsock.accept()
        except (BlockingIOError, TimeoutError):
            if time.monotonic() > deadline:
                raise engine.EngineError("accept", errno.ETIMEDOUT) from None
            continue
        except OSError as exc:
            raise engine.EngineError("accept", exc.errno) from None
        engine.set_timeouts(conn, SOCKET_TIMEOUT_S)
        return conn


# A worker runs one trial: the TCP retries its client made, for the record.
tcp_retries: list[dict] = []


def client_socket(cfg: dict) -> socket.socket:
    """The client's socket; with cfg["tcp_retry"], an MPTCP socket() that
    fails is retried with TCP, as the MPTCP FAQ advises applications to do,
    and the error and the time lost are kept in tcp_retries."""
    if not (cfg.get("tcp_retry") and cfg["protocol"] == "mptcp"):
        return engine.open_socket(cfg["protocol"], cfg["family"])
    t0 = time.monotonic_ns()
    try:
        return engine.open_socket("mptcp", cfg["family"])
    except engine.EngineError as exc:
        sock = engine.open_socket("tcp", cfg["family"])
        tcp_retries.append({"call": exc.call, "errno": exc.errno_name,
                            "lost_us": (time.monotonic_ns() - t0) / 1000})
        return sock


_announced = False


def announce_connected() -> None:
    """{"event": "connected"} once per worker, at its first connection: the
    clock of the trial's link events starts there (harness.net.events)."""
    global _announced
    if not _announced:
        _announced = True
        emit("connected")


def connect(cfg: dict, port: int, nodelay: bool = False) -> socket.socket:
    sock = client_socket(cfg)
    # The source port is chosen at connect(), per destination, not at
    # bind(): thousands of connections and their TIME_WAIT do not use up
    # the port range (a kernel without the option for this socket picks
    # at bind(), as before, and a full range fails bind with EADDRINUSE).
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    syscall("bind", sock.bind, (cfg["bind"], 0))
    sock.settimeout(cfg["accept_timeout_s"])
    syscall("connect", sock.connect, (cfg["connect"], port))
    announce_connected()
    sock.settimeout(None)
    engine.set_timeouts(sock, SOCKET_TIMEOUT_S)
    if nodelay:
        set_nodelay(sock)
    return sock


def set_nodelay(sock: socket.socket) -> None:
    """Request/response: each small message leaves at once (MPTCP supports
    TCP_NODELAY on the MPTCP socket and applies it to every subflow)."""
    syscall("setsockopt(TCP_NODELAY)", sock.setsockopt, socket.IPPROTO_TCP,
            socket.TCP_NODELAY, 1)


stop_requested = False     # set by the worker's stop signal (harness.traffic.worker)


def await_peer(sock: socket.socket, timeout_s: float) -> bytes:
    """Wait for the peer's marker byte or its close; returns what came."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stop_requested:
            raise engine.EngineError("recv(done)", errno.EINTR)
        try:
            return sock.recv(1)
        except (BlockingIOError, TimeoutError, socket.timeout):
            continue
    raise engine.EngineError("recv(done)", errno.ETIMEDOUT)


class Window:
    """This process's CPU time and the whole machine's busy time (from
    /proc/stat) over a stretch of wall-clock time."""

    def __init__(self):
        self.probe = owncpu.Probe()
        self.own0, self.stat0 = self.probe.read(), cpustat.read()
        self.cpu0, self.t0 = rusage_s(), time.monotonic_ns()

    def close(self) -> dict:
        t1, cpu_s, stat1 = time.monotonic_ns(), rusage_s() - self.cpu0, cpustat.read()
        system = cpustat.delta(self.stat0, stat1)
        system.update(own=owncpu.delta(self.own0, self.probe.read()), wall_s=(t1 - self.t0) / 1e9)
        return {"cpu_s": cpu_s, "window_ns": t1 - self.t0, "system": system}


def in_threads(*calls) -> list:
    """Run each zero-argument callable in its own thread (the C loops
    release the GIL) and return their results in order; the first
    exception is raised once all have ended."""
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
