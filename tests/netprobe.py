"""Probes across a topology's first link, for the root and VM tiers."""
from __future__ import annotations

import socket
import time

from harness.host import netns


def tcp_rtts_ms(topo, n: int) -> list[float]:
    """n one-byte request/response round trips over one TCP connection
    (TCP_NODELAY), client to server, in milliseconds."""
    server = netns.call_in(topo.ns("server"), socket.socket)
    server.bind((topo.server_address(4), 0))
    server.listen(1)
    client = netns.call_in(topo.ns("client"), socket.socket)
    client.connect(server.getsockname())
    conn, _ = server.accept()
    for s in (client, conn):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(n):
        t0 = time.monotonic()
        client.sendall(b"p")
        conn.recv(1)
        conn.sendall(b"q")
        client.recv(1)
        rtts.append((time.monotonic() - t0) * 1000)
    for s in (client, conn, server):
        s.close()
    return rtts
