"""Bulk transfer, the same for TCP and MPTCP:
  sender: connect, send for a duration or a byte budget, shutdown(SHUT_WR),
          wait for the receiver's one-byte "done", read introspection, close.
  receiver: accept, receive until EOF, read introspection, send "done",
          wait for the sender's close.
The sender's CPU window therefore ends when every byte has been delivered.
With `flows` > 1 each end runs that many connections at once on the
event loop (min(flows, CPUs of the side) threads, harness/csrc/engine/evloop.c),
which merges their loops in C; the modes it does not have run one thread
per connection, merged here (merge_loops).  Either way each flow's own
figures are kept (`flows`) and `engine_loop` says which ran and why.
transfer() and receive() are also the load flows of rr_under_load.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time

from harness.host import sockinfo
from harness.traffic import engine
from harness.traffic.subflow_sampler import SubflowSampler
from harness.traffic.workloads.common import (
    DONE,
    Window,
    accept,
    await_peer,
    connect,
    emit,
    fd_room,
    in_threads,
    listen,
    rusage_s,
    syscall,
)


def receive(conn: socket.socket, cfg: dict) -> dict:
    cpu0 = rusage_s()
    out = _receive(conn, cfg)
    return {**out, "cpu_s": rusage_s() - cpu0}


def _receive(conn: socket.socket, cfg: dict) -> dict:
    result = engine.bulk_recv(conn, bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"],
                              idle_timeout_s=cfg["idle_timeout_s"], mode=cfg["recv_mode"],
                              verify_seed=cfg["seed"] if cfg["verify"] else None,
                              lowat=cfg["recv_lowat"])
    engine.raise_for(result, mode=f"receive mode {cfg['recv_mode']}", keep=True)
    info = engine.introspect(conn)
    try:
        syscall("send(done)", conn.sendall, DONE)
        await_peer(conn, cfg["idle_timeout_s"])
    except engine.EngineError as exc:     # received, never confirmed: say what came
        exc.partial = {"loop": result}
        raise
    return {"loop": result, "info": info, "mode": engine.mode_support(cfg["recv_mode"], result)}


def transfer(sock: socket.socket, cfg: dict, duration_s: float) -> dict:
    """Send, then wait until the receiver has everything: {loop, delivered,
    mode}.  Unmeasured: what rr_under_load's load flows run."""
    result = engine.bulk_send(sock, duration_s=duration_s, max_bytes=cfg["max_bytes"],
                              bufsize=cfg["bufsize"], interval_ms=cfg["interval_ms"],
                              mode=cfg["send_mode"], seed=cfg["seed"], corrupt_at=cfg["corrupt_at"])
    engine.raise_for(result, mode=f"send mode {cfg['send_mode']}", keep=True)
    try:
        syscall("shutdown", sock.shutdown, socket.SHUT_WR)
        delivered = await_peer(sock, cfg["idle_timeout_s"]) == DONE
    except engine.EngineError as exc:     # sent, never confirmed: say how much was sent
        exc.partial = {"loop": result}
        raise
    return {"loop": result, "delivered": delivered,
            "mode": engine.mode_support(cfg["send_mode"], result)}


def engine_loop(cfg: dict, direction: str, connections: int) -> dict:
    """Which loop runs this end ("send" or "recv"): one connection its own
    loop (the single-connection lead), several the event loop in
    min(connections, CPUs of this side) threads, except in the modes the
    event loop does not have: those run thread-per-connection, said here."""
    if connections == 1:
        return {"kind": "single", "threads": 1, "reason": None}
    mode = cfg[f"{direction}_mode"]
    modes = engine.EVLOOP_SEND_MODES if direction == "send" else engine.EVLOOP_RECV_MODES
    if mode not in modes:
        why = f"{direction} mode {mode} runs thread-per-connection (the event loop has {', '.join(modes)})"
    elif cfg.get("corrupt_at", -1) >= 0 and direction == "send":
        why = "the corrupt_at test hook runs thread-per-connection"
    else:
        return {"kind": "evloop", "threads": min(connections, len(os.sched_getaffinity(0))),
                "reason": None}
    return {"kind": "thread-per-connection", "threads": connections, "reason": why}


def send(socks: list[socket.socket], cfg: dict) -> dict:
    """Every flow at once, measured: the CPU window, the first flow's
    per-subflow counters over time (MPTCP) and its introspection."""
    choice = engine_loop(cfg, "send", len(socks))
    window = Window()
    with _sampler(socks[0], cfg) as sampler:
        run = _send_evloop if choice["kind"] == "evloop" else _send_threads
        out = run(socks, cfg, choice["threads"])
    out.update(window.close(), info=engine.introspect(socks[0]), engine_loop=choice)
    if sampler:
        out["subflow_series"] = sampler.series()
    return out


def _send_threads(socks: list[socket.socket], cfg: dict, _threads: int) -> dict:
    flows = _each(socks, lambda s: transfer(s, cfg, cfg["duration_s"]))
    return {**_merged(flows, cfg["send_mode"]), "delivered": all(f["delivered"] for f in flows)}


def _send_evloop(socks: list[socket.socket], cfg: dict, threads: int) -> dict:
    """The event loop sends and shuts every connection down; each receiver's
    "done", awaited in C (engine.exchange), then says that its connection's
    bytes all arrived."""
    result = engine.evloop_send(socks, threads=threads, duration_s=cfg["duration_s"],
                                max_bytes=cfg["max_bytes"], bufsize=cfg["bufsize"],
                                interval_ms=cfg["interval_ms"], seed=cfg["seed"])
    loop = engine.raise_for(result["loop"], mode=f"send mode {cfg['send_mode']}")
    done = engine.exchange(socks, idle_timeout_s=cfg["idle_timeout_s"])
    return {"loop": loop, "exchange_cpu_ns": done["cpu_ns"],
            "mode": engine.mode_support(cfg["send_mode"], loop),
            "flows": [flow_figures(f) for f in result["flows"]],
            "delivered": all(g == DONE[0] for g in done["got"])}


def _receive_evloop(conns: list[socket.socket], cfg: dict, threads: int) -> dict:
    """The event loop receives every connection to its EOF; then the first
    is introspected (before the peers close) and each is told "done" and
    awaited until it closes, in C (engine.exchange)."""
    result = engine.evloop_recv(conns, threads=threads, bufsize=cfg["bufsize"],
                                interval_ms=cfg["interval_ms"],
                                idle_timeout_s=cfg["idle_timeout_s"], mode=cfg["recv_mode"],
                                verify_seed=cfg["seed"] if cfg["verify"] else None,
                                lowat=cfg["recv_lowat"])
    loop = engine.raise_for(result["loop"], mode=f"receive mode {cfg['recv_mode']}")
    info = engine.introspect(conns[0])
    closed = engine.exchange(conns, send=DONE, idle_timeout_s=cfg["idle_timeout_s"])
    return {"loop": loop, "exchange_cpu_ns": closed["cpu_ns"],
            "mode": engine.mode_support(cfg["recv_mode"], loop),
            "flows": [flow_figures(f) for f in result["flows"]], "info": info}


def _receive_threads(conns: list[socket.socket], cfg: dict, _threads: int) -> dict:
    flows = _each(conns, lambda c: _receive(c, cfg))
    return {**_merged(flows, cfg["recv_mode"]), "info": flows[0]["info"]}


def _each(socks: list[socket.socket], fn) -> list:
    """fn on every socket: here for one, in a thread each for several."""
    if len(socks) == 1:
        return [fn(socks[0])]
    return in_threads(*(lambda s=s: fn(s) for s in socks))


def _merged(flows: list[dict], mode: str) -> dict:
    """One end's flows as one: the merged loop, the mode as the merged loop
    shows it, and each flow's own figures when there are several."""
    if len(flows) == 1:
        return dict(flows[0])
    loop = merge_loops([f["loop"] for f in flows])
    return {"loop": loop, "mode": engine.mode_support(mode, loop),
            "flows": [flow_figures(f["loop"]) for f in flows]}


SUMMED = ("bytes", "calls", "cpu_ns", "zc_requests", "zc_completions", "zc_copied", "zc_enobufs")


def merge_loops(loops: list[dict]) -> dict:
    """Loop results of concurrent flows as one: counters summed, the span
    from the first start to the last end, and the interval series summed on
    the earliest flow's grid (each flow's series shifted by its start)."""
    out = dict(loops[0])
    for key in SUMMED:
        if key in out:
            out[key] = sum(lp.get(key) or 0 for lp in loops)
    # first_ns / last_ns are 0 for a flow that received nothing (the engine's clock)
    for key, pick in (("start_ns", min), ("first_ns", min), ("end_ns", max), ("last_ns", max)):
        values = [lp[key] for lp in loops
                  if (lp.get(key) if key in ("first_ns", "last_ns") else lp.get(key) is not None)]
        out[key] = pick(values) if values else out.get(key)
    step = out["interval_ns"]
    grid: list[int] = []
    for lp in loops:
        shift = round((lp["start_ns"] - out["start_ns"]) / step)
        grid += [0] * max(0, shift + len(lp["intervals"]) - len(grid))
        for i, b in enumerate(lp["intervals"]):
            grid[shift + i] += b
    out["intervals"] = grid
    verified = [lp["verify"] for lp in loops if lp.get("verify")]
    if verified:
        out["verify"] = {"checked": sum(v.get("checked", 0) for v in verified),
                         "mismatched": sum(v.get("mismatched", 0) for v in verified),
                         "first_bad_offset": next((v["first_bad_offset"] for v in verified
                                                   if v.get("first_bad_offset") is not None),
                                                  None)}
    out["error"] = next((lp["error"] for lp in loops if lp.get("error")), None)
    return out


def flow_figures(loop: dict) -> dict:
    span = (loop["last_ns"] - loop["first_ns"]) / 1e9 if loop.get("first_ns") else 0
    return {"bytes": loop["bytes"], "first_ns": loop.get("first_ns"),
            "last_ns": loop.get("last_ns"),
            "goodput_bps": loop["bytes"] * 8 / span if span > 0 else None}


def _sampler(sock: socket.socket, cfg: dict):
    """Per-subflow counters over the transfer, for an MPTCP socket only
    (a TCP connection is its own single path: its series is the loop's)."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) != sockinfo.IPPROTO_MPTCP:
        return contextlib.nullcontext()
    return SubflowSampler(sock.fileno(), cfg["interval_ms"])


def receiver(cfg: dict) -> dict:
    fd_room(cfg.get("flows", 1))
    lsock = listen(cfg)
    emit("listening", port=lsock.getsockname()[1])
    conns = [accept(lsock, cfg["accept_timeout_s"]) for _ in range(cfg.get("flows", 1))]
    peer = conns[0].getpeername()
    choice = engine_loop(cfg, "recv", len(conns))
    # The listener stays open for the whole transfer: MPTCP joins (extra
    # subflows) arrive through it and are reset once it is closed.
    if choice["kind"] == "single":
        out = receive(conns[0], cfg)
    else:
        cpu0 = rusage_s()
        run = _receive_evloop if choice["kind"] == "evloop" else _receive_threads
        out = {**run(conns, cfg, choice["threads"]), "cpu_s": rusage_s() - cpu0}
    for c in (*conns, lsock):
        c.close()
    return {"peer": f"{peer[0]}:{peer[1]}", **out, "engine_loop": choice}


def notsent_lowat(socks: list[socket.socket], cfg: dict) -> None:
    """TCP_NOTSENT_LOWAT on each sending socket when the trial asks for it
    (an MPTCP socket takes it for the connection)."""
    for s in socks if cfg.get("notsent_lowat") else ():
        syscall("setsockopt(TCP_NOTSENT_LOWAT)", s.setsockopt, socket.IPPROTO_TCP,
                socket.TCP_NOTSENT_LOWAT, cfg["notsent_lowat"])


def sender(cfg: dict) -> dict:
    """Also how long the first connect() took: a SYN a middlebox drops
    costs the retransmission timeouts before a connection exists."""
    fd_room(cfg.get("flows", 1))
    t0 = time.monotonic_ns()
    socks = [connect(cfg, cfg["port"])]
    connect_ns = time.monotonic_ns() - t0
    socks += [connect(cfg, cfg["port"]) for _ in range(cfg.get("flows", 1) - 1)]
    notsent_lowat(socks, cfg)
    out = send(socks, cfg)
    for s in socks:
        s.close()
    return {**out, "connect_ns": connect_ns}
