"""Micro-benchmarks of the engine's hot loops over loopback inside one
throwaway namespace: bulk send/receive and RR ping-pong, TCP and MPTCP.

Skipped by the default test run (`--benchmark-skip` in pyproject.toml);
run them with `make bench-micro` (add e.g. ARGS="--benchmark-json=out.json"
to keep the figures, or ARGS="--benchmark-compare" to compare with the last
saved run).  Speed is reported, never asserted: these measure, tests test.
"""
from __future__ import annotations

import os
import socket
import threading

import pytest

from harness import ownership
from harness.host import netns
from harness.traffic import engine

BULK_BYTES = 256 << 20
RR_TRANSACTIONS = 20_000
OWNER = f"bench{os.getpid()}"


@pytest.fixture(scope="module")
def namespace():
    """One namespace with loopback up, registered so that a concurrent
    `bench clean` leaves it alone."""
    name = f"{netns.PREFIX}-{OWNER}-lo"
    with ownership.owning(OWNER):
        netns.create(name)
        try:
            netns.run(name, ["ip", "link", "set", "lo", "up"])
            yield name
        finally:
            netns.remove(name)


def connected_pair(ns: str, protocol: str) -> tuple[socket.socket, socket.socket]:
    """(client, server) connected over 127.0.0.1 inside the namespace."""
    lsock = netns.call_in(ns, engine.open_socket, protocol, 4)
    with lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = netns.call_in(ns, engine.open_socket, protocol, 4)
        client.connect(lsock.getsockname())
        server, _ = lsock.accept()
    for s in (client, server):
        engine.set_timeouts(s, 0.2)
    return client, server


def bulk_once(client: socket.socket, server: socket.socket) -> dict:
    got = {}
    reader = threading.Thread(target=lambda: got.update(engine.bulk_recv(server)))
    reader.start()
    sent = engine.raise_for(engine.bulk_send(client, max_bytes=BULK_BYTES))
    client.shutdown(socket.SHUT_WR)
    reader.join()
    for s in (client, server):
        s.close()
    assert got["bytes"] == sent["bytes"] == BULK_BYTES
    return sent


def rr_once(client: socket.socket, server: socket.socket) -> dict:
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    served = {}
    t = threading.Thread(target=lambda: served.update(
        engine.rr_server([server], request=1, response=1)))
    t.start()
    result = engine.raise_for(engine.rr_client([client], request=1, response=1,
                                               max_transactions=RR_TRANSACTIONS))
    client.close()
    t.join()
    server.close()
    assert result["transactions"] == served["transactions"] == RR_TRANSACTIONS
    return result


@pytest.mark.parametrize("protocol", ["tcp", "mptcp"])
def test_bulk_send_recv_256mib(benchmark, namespace, protocol):
    benchmark.extra_info["bytes"] = BULK_BYTES
    benchmark.pedantic(bulk_once, setup=lambda: (connected_pair(namespace, protocol), {}),
                       rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("protocol", ["tcp", "mptcp"])
def test_rr_1_byte_20k_transactions(benchmark, namespace, protocol):
    benchmark.extra_info["transactions"] = RR_TRANSACTIONS
    benchmark.pedantic(rr_once, setup=lambda: (connected_pair(namespace, protocol), {}),
                       rounds=5, warmup_rounds=1)
