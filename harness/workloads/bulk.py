"""Bulk transfer, the same for TCP and MPTCP:
  sender: connect, send for a duration or a byte budget, shutdown(SHUT_WR),
          wait for the receiver's one-byte "done", read introspection, close.
  receiver: accept, receive until EOF, read introspection, send "done",
          wait for the sender's close.
The sender's CPU window therefore ends when every byte has been delivered.
transfer() and receive() are also the load flows of rr_under_load.
"""
from __future__ import annotations

import contextlib
import socket

from harness import engine, sockinfo
from harness.subflow_sampler import SubflowSampler
from harness.workloads.common import (
    DONE,
    Window,
    accept,
    await_peer,
    connect,
    emit,
    listen,
    rusage_s,
    syscall,
)


def receive(conn: socket.socket, cfg: dict) -> dict:
    cpu0 = rusage_s()
    result = engine.bulk_recv(conn, bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"],
                              idle_timeout_s=cfg["idle_timeout_s"], mode=cfg["recv_mode"],
                              verify_seed=cfg["seed"] if cfg["verify"] else None,
                              lowat=cfg["recv_lowat"])
    cpu_s = rusage_s() - cpu0
    engine.raise_for(result, mode=f"receive mode {cfg['recv_mode']}")
    info = engine.introspect(conn)
    syscall("send(done)", conn.sendall, DONE)
    await_peer(conn, cfg["idle_timeout_s"])
    return {"loop": result, "cpu_s": cpu_s, "info": info,
            "mode": engine.mode_support(cfg["recv_mode"], result)}


def transfer(sock: socket.socket, cfg: dict, duration_s: float) -> dict:
    """Send, then wait until the receiver has everything: {loop, delivered,
    mode}.  Unmeasured: what rr_under_load's load flows run."""
    result = engine.bulk_send(sock, duration_s=duration_s, max_bytes=cfg["max_bytes"],
                              bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"],
                              mode=cfg["send_mode"], seed=cfg["seed"], corrupt_at=cfg["corrupt_at"])
    engine.raise_for(result, mode=f"send mode {cfg['send_mode']}")
    syscall("shutdown", sock.shutdown, socket.SHUT_WR)
    return {"loop": result, "delivered": await_peer(sock, cfg["idle_timeout_s"]) == DONE,
            "mode": engine.mode_support(cfg["send_mode"], result)}


def send(sock: socket.socket, cfg: dict) -> dict:
    """transfer() measured: the CPU window, per-subflow counters over time
    (MPTCP) and the socket's introspection at the end."""
    window = Window()
    with _sampler(sock, cfg) as sampler:
        out = transfer(sock, cfg, cfg["duration_s"])
    out.update(window.close(), info=engine.introspect(sock))
    if sampler:
        out["subflow_series"] = sampler.series()
    return out


def _sampler(sock: socket.socket, cfg: dict):
    """Per-subflow counters over the transfer, for an MPTCP socket only
    (a TCP connection is its own single path: its series is the loop's)."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) != sockinfo.IPPROTO_MPTCP:
        return contextlib.nullcontext()
    return SubflowSampler(sock.fileno(), cfg["interval_ms"])


def receiver(cfg: dict) -> dict:
    lsock = listen(cfg)
    emit("listening", port=lsock.getsockname()[1])
    conn = accept(lsock, cfg["accept_timeout_s"])
    peer = conn.getpeername()
    # The listener stays open for the whole transfer: MPTCP joins (extra
    # subflows) arrive through it and are reset once it is closed.
    out = receive(conn, cfg)
    conn.close()
    lsock.close()
    return {"peer": f"{peer[0]}:{peer[1]}", **out}


def sender(cfg: dict) -> dict:
    sock = connect(cfg, cfg["port"])
    out = send(sock, cfg)
    sock.close()
    return out
