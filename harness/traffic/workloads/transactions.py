"""Request/response workloads.

rr:  `flows` connections, each with one request of request_bytes
     outstanding at a time, answered by response_bytes; every transaction's
     latency is recorded by the client.  The server ends at the client's EOF.
crr: connect, request, response, close, repeated by each of `flows`
     concurrent clients: the cost of setting a connection up (MPTCP's
     handshake against TCP's) and the rate a listener sustains.
     The client's last connection, made here in Python, carries END_REQUEST
     so that the server stops, and is introspected before it closes.
"""
from __future__ import annotations

import errno
import socket

from harness.host.sockinfo import IPPROTO_MPTCP
from harness.measure import latency
from harness.traffic import engine
from harness.traffic.workloads.common import (
    Window,
    accept,
    announce_connected,
    connect,
    emit,
    listen,
    rusage_s,
    set_nodelay,
    syscall,
)


def summarized(result: dict) -> dict:
    """A latency loop's result with its packed latencies replaced by their
    summary and a decimated series (JSON-friendly)."""
    out = {k: v for k, v in result.items() if k != "latency_ns"}
    if "latency_ns" in result:
        samples = latency.as_array(result["latency_ns"])
        out["latency"] = latency.summarize(samples)
        out["latency_samples_us"] = latency.decimate(samples)
    return out


def run_rr(socks: list[socket.socket], cfg: dict, duration_s: float) -> dict:
    """One RR phase on connected sockets, with its CPU window."""
    window = Window()
    result = engine.rr_client(socks, request=cfg["request_bytes"],
                              response=cfg["response_bytes"], duration_s=duration_s,
                              idle_timeout_s=cfg["idle_timeout_s"],
                              interval_ms=cfg["interval_ms"], pace_ms=cfg.get("pace_ms", 0))
    spent = window.close()
    engine.raise_for(result)
    return {"loop": summarized(result), **spent}


def serve_rr(conns: list[socket.socket], cfg: dict) -> dict:
    for c in conns:
        set_nodelay(c)
    result = engine.rr_server(conns, request=cfg["request_bytes"],
                              response=cfg["response_bytes"],
                              idle_timeout_s=cfg["idle_timeout_s"], interval_ms=cfg["interval_ms"])
    return summarized(engine.raise_for(result))


def rr_sender(cfg: dict) -> dict:
    socks = [connect(cfg, cfg["port"], nodelay=True) for _ in range(cfg["flows"])]
    out = run_rr(socks, cfg, cfg["duration_s"])
    out["info"] = engine.introspect(socks[0])
    for s in socks:
        s.close()
    return out


def rr_receiver(cfg: dict) -> dict:
    lsock = listen(cfg)
    emit("listening", port=lsock.getsockname()[1])
    conns = [accept(lsock, cfg["accept_timeout_s"]) for _ in range(cfg["flows"])]
    cpu0 = rusage_s()
    loop = serve_rr(conns, cfg)
    out = {"loop": loop, "cpu_s": rusage_s() - cpu0, "info": engine.introspect(conns[0])}
    for c in (*conns, lsock):
        c.close()
    return out


def _goodbye(cfg: dict) -> dict:
    """CRR's last connection: tells the server to stop, and shows what a
    connection of this trial looked like from the client."""
    sock = connect(cfg, cfg["port"], nodelay=True)
    request = engine.END_REQUEST + b"R" * (cfg["request_bytes"] - 1)
    syscall("send(request)", sock.sendall, request)
    got = 0
    while got < cfg["response_bytes"]:
        chunk = syscall("recv(response)", sock.recv, cfg["response_bytes"] - got)
        if not chunk:
            raise engine.EngineError("recv(response)", errno.ECONNRESET)
        got += len(chunk)
    info = engine.introspect(sock)
    sock.close()
    return info


def crr_sender(cfg: dict) -> dict:
    announce_connected()     # its connections are the engine's: the clock starts here
    window = Window()
    result = engine.crr_client(cfg["protocol"], cfg["family"], cfg["bind"], cfg["connect"],
                               cfg["port"], request=cfg["request_bytes"],
                               response=cfg["response_bytes"], duration_s=cfg["duration_s"],
                               idle_timeout_s=cfg["idle_timeout_s"],
                               interval_ms=cfg["interval_ms"], clients=cfg.get("flows", 1))
    spent = window.close()
    engine.raise_for(result)
    return {"loop": summarized(result), **spent, "info": _goodbye(cfg)}


def crr_receiver(cfg: dict) -> dict:
    lsock = listen(cfg)
    emit("listening", port=lsock.getsockname()[1])
    cpu0 = rusage_s()
    result = engine.crr_server(lsock, request=cfg["request_bytes"],
                               response=cfg["response_bytes"],
                               idle_timeout_s=cfg["idle_timeout_s"] + cfg["accept_timeout_s"],
                               interval_ms=cfg["interval_ms"])
    cpu_s = rusage_s() - cpu0
    engine.raise_for(result)
    lsock.close()
    return {"loop": summarized(result), "cpu_s": cpu_s, "info": accepted_view(result["accepted"])}


def accepted_view(accepted: dict) -> dict:
    """The server's view of many short connections: MPTCP only if every
    accepted socket was (an MPTCP listener hands a TCP client a TCP socket)."""
    proto = socket.IPPROTO_TCP if accepted["tcp"] or not accepted["mptcp"] else IPPROTO_MPTCP
    return {"so_protocol": proto, "accepted_protocols": accepted}
