"""A worker process: one end of one trial, run inside a namespace.

    python -m harness.worker '<json config>'

It enters the namespace, pins itself, runs its role and writes JSON lines
to stdout: {"event": "listening", "port": N} (receiver), then one
{"event": "result", ...} or {"event": "error", ...}.  It dies with its
parent (PR_SET_PDEATHSIG), so a killed orchestrator leaves no worker behind.

Bulk protocol, the same for TCP and MPTCP:
  sender: connect, send for a duration or a byte budget, shutdown(SHUT_WR),
          wait for the receiver's one-byte "done", read introspection, close.
  receiver: accept, receive until EOF, read introspection, send "done",
          wait for the sender's close.
The sender's CPU window therefore ends when every byte has been delivered.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import socket
import sys
import time

from harness import _engine, cpustat, engine, netns

DONE = b"\x01"
SOCKET_TIMEOUT_S = 0.2


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def enter(cfg: dict) -> None:
    _engine.set_pdeathsig(signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before PDEATHSIG was armed
        sys.exit(1)
    fd = os.open(netns.path(cfg["netns"]), os.O_RDONLY)
    try:
        _engine.setns(fd)
    finally:
        os.close(fd)
    if cfg.get("cpu") is not None:
        os.sched_setaffinity(0, {cfg["cpu"]})


def syscall(name: str, fn, *args):
    """Run one socket call; a failure names the call and its errno."""
    try:
        return fn(*args)
    except OSError as exc:  # socket.timeout carries no errno
        raise engine.EngineError(name, exc.errno or errno.ETIMEDOUT) from None


def rusage_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def await_peer(sock: socket.socket, timeout_s: float) -> bytes:
    """Wait for the peer's marker byte or its close; returns what came."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return sock.recv(1)
        except (BlockingIOError, TimeoutError, socket.timeout):
            continue
    raise engine.EngineError("recv(done)", errno.ETIMEDOUT)


def receiver(cfg: dict) -> dict:
    lsock = engine.open_socket(cfg["protocol"], cfg["family"])
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    syscall("bind", lsock.bind, (cfg["listen"], 0))
    syscall("listen", lsock.listen, 8)
    emit("listening", port=lsock.getsockname()[1])
    lsock.settimeout(cfg["accept_timeout_s"])
    conn, peer = syscall("accept", lsock.accept)
    # The listener stays open for the whole transfer: MPTCP joins (extra
    # subflows) arrive through it and are reset once it is closed.
    conn.settimeout(None)
    engine.set_timeouts(conn, SOCKET_TIMEOUT_S)
    cpu0 = rusage_s()
    result = engine.bulk_recv(conn, bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"],
                              idle_timeout_s=cfg["idle_timeout_s"])
    cpu_s = rusage_s() - cpu0
    info = engine.introspect(conn)
    if result["error"] is None:
        syscall("send(done)", conn.sendall, DONE)
        await_peer(conn, cfg["idle_timeout_s"])
    conn.close()
    lsock.close()
    return {"peer": f"{peer[0]}:{peer[1]}", "loop": result, "cpu_s": cpu_s, "info": info}


def sender(cfg: dict) -> dict:
    sock = engine.open_socket(cfg["protocol"], cfg["family"])
    syscall("bind", sock.bind, (cfg["bind"], 0))
    sock.settimeout(cfg["accept_timeout_s"])
    syscall("connect", sock.connect, (cfg["connect"], cfg["port"]))
    sock.settimeout(None)
    engine.set_timeouts(sock, SOCKET_TIMEOUT_S)
    stat0, cpu0, t0 = cpustat.read(), rusage_s(), time.monotonic_ns()
    result = engine.bulk_send(sock, duration_s=cfg["duration_s"], max_bytes=cfg["max_bytes"],
                              bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"])
    delivered = False
    if result["error"] is None:
        syscall("shutdown", sock.shutdown, socket.SHUT_WR)
        delivered = await_peer(sock, cfg["idle_timeout_s"]) == DONE
    t1, cpu_s, stat1 = time.monotonic_ns(), rusage_s() - cpu0, cpustat.read()
    info = engine.introspect(sock)
    sock.close()
    return {"loop": result, "cpu_s": cpu_s, "delivered": delivered,
            "window_ns": t1 - t0, "system": cpustat.delta(stat0, stat1), "info": info}


ROLES = {"receiver": receiver, "sender": sender}


FAULT_ENV = "MPTCP_BENCH_TEST_FAULT"


def inject_test_fault(role: str) -> None:
    """Tests only: when $MPTCP_BENCH_TEST_FAULT names a file that says
    "<role> hang" or "<role> crash", the first worker of that role to claim
    it (by removing it) hangs or dies by SIGKILL — once, so that the test
    can check that the trial fails with its reason and the run goes on."""
    path = os.environ.get(FAULT_ENV)
    if not path:
        return
    try:
        with open(path) as f:
            wanted, fault = f.read().split()
        if wanted != role:
            return
        os.unlink(path)
    except (OSError, ValueError):   # absent, malformed, or claimed by another worker
        return
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(3600)


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    try:
        enter(cfg)
        inject_test_fault(cfg["role"])
        result = ROLES[cfg["role"]](cfg)
    except engine.EngineError as exc:
        emit("error", **exc.as_dict())
        return 3
    result["cpu"] = sorted(os.sched_getaffinity(0))
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
