"""The cost of a connection (workload `hold`), the same for TCP and MPTCP:
  sender:   connect the first connection (the control one), then the other
            flows - 1 back to back; send one byte on every connection, the
            control one first (its byte says "all connected"): an MPTCP
            connection is fully established, and its path manager adds
            subflows, once data has flowed; wait for the receiver's "held"
            on every connection, snapshot its namespace's sockets (the first
            snapshot came before it connected); ask the receiver to close.
  receiver: with a snapshot of its namespace's sockets taken once it
            listens, accept the control connection, wait for its byte, then drain
            the accept queue of the flows - 1 others (the listener's accept
            rate, none of it waiting on the client); read each one's byte,
            hold them for duration_s (the joins complete meanwhile),
            snapshot again, say "held" on each; at "close", close
            first, so that TIME_WAIT stays on the server's side.
The sender's CPU window spans every set-up, accept and join: the trial's
own CPU per connection.  The MIB counters of both namespaces say whether
every connection was MPTCP with its subflows (bench.record.trial).
"""
from __future__ import annotations

import errno
import socket
import time

from harness.measure import kmem
from harness.traffic import engine
from harness.traffic.workloads.common import (
    Window,
    accept,
    await_peer,
    connect,
    emit,
    fd_room,
    listen,
    rusage_s,
    syscall,
)

HELLO, HELD, CLOSE = b"\x02", b"\x03", b"\x04"


def _expect(sock: socket.socket, marker: bytes, what: str, timeout_s: float) -> None:
    got = await_peer(sock, timeout_s)
    if got != marker:     # closed early, or out of step
        raise engine.EngineError(f"recv({what})", errno.ECONNRESET if got == b"" else errno.EPROTO)


def sender(cfg: dict) -> dict:
    n = cfg["flows"]
    fd_room(n)
    before = kmem.settled()
    window = Window()
    t0 = time.monotonic_ns()
    socks = [connect(cfg, cfg["port"]) for _ in range(n)]
    connect_ns = time.monotonic_ns() - t0
    for s in socks:
        syscall("send(hello)", s.sendall, HELLO)
    wait_s = cfg["idle_timeout_s"] + cfg["duration_s"]
    for s in socks:
        _expect(s, HELD, "held", wait_s)
    out = window.close()
    memory = kmem.delta(before, kmem.snapshot())
    info = engine.introspect(socks[0])
    syscall("send(close)", socks[0].sendall, CLOSE)
    for s in socks:
        await_peer(s, cfg["idle_timeout_s"])      # the receiver's close
        s.close()
    return {**out, "connections": n, "connect_ns": connect_ns, "memory": memory, "info": info}


def receiver(cfg: dict) -> dict:
    n = cfg["flows"]
    fd_room(n)
    lsock = listen(cfg)
    before = kmem.settled()      # the listener's own sockets are not the connections'
    emit("listening", port=lsock.getsockname()[1])
    cpu0 = rusage_s()
    ctl = accept(lsock, cfg["accept_timeout_s"])
    _expect(ctl, HELLO, "hello", cfg["accept_timeout_s"] + cfg["idle_timeout_s"])
    t0 = time.monotonic_ns()
    conns = [ctl, *(accept(lsock, cfg["accept_timeout_s"]) for _ in range(n - 1))]
    accept_ns = time.monotonic_ns() - t0
    for c in conns[1:]:
        _expect(c, HELLO, "hello", cfg["idle_timeout_s"])
    time.sleep(cfg["duration_s"])
    memory = kmem.delta(before, kmem.snapshot())
    info = engine.introspect(ctl)
    for c in conns:
        syscall("send(held)", c.sendall, HELD)
    _expect(ctl, CLOSE, "close", cfg["idle_timeout_s"])
    for c in (*conns, lsock):
        c.close()
    return {"connections": n, "accepted_after_first": n - 1, "accept_ns": accept_ns,
            "hold_s": cfg["duration_s"], "memory": memory, "cpu_s": rusage_s() - cpu0,
            "info": info}
