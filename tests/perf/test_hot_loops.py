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
import statistics
import subprocess
import threading
from pathlib import Path

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


MANY = 64
MANY_BYTES = 4 << 20   # per connection: 256 MiB in all, as the one-connection case


def many_pairs(ns: str, protocol: str) -> list[tuple[socket.socket, socket.socket]]:
    return [connected_pair(ns, protocol) for _ in range(MANY)]


def _close(pairs) -> None:
    for c, s in pairs:
        c.close()
        s.close()


def many_evloop(pairs) -> None:
    """Both ends on the event loop, one thread each (the pinned case)."""
    got = {}
    reader = threading.Thread(target=lambda: got.update(
        engine.evloop_recv([s for _, s in pairs], threads=1)))
    reader.start()
    sent = engine.evloop_send([c for c, _ in pairs], threads=1, max_bytes=MANY_BYTES)
    reader.join()
    _close(pairs)
    assert got["loop"]["bytes"] == sent["loop"]["bytes"] == MANY * MANY_BYTES


def many_threads(pairs) -> None:
    """The same transfer with a thread and a C loop per connection and end."""
    def one(c, s):
        got = {}
        reader = threading.Thread(target=lambda: got.update(engine.bulk_recv(s)))
        reader.start()
        engine.raise_for(engine.bulk_send(c, max_bytes=MANY_BYTES))
        c.shutdown(socket.SHUT_WR)
        reader.join()
        assert got["bytes"] == MANY_BYTES
    threads = [threading.Thread(target=one, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _close(pairs)


@pytest.mark.parametrize("loop", ["evloop", "threads"])
@pytest.mark.parametrize("protocol", ["tcp", "mptcp"])
def test_bulk_64_connections_256mib(benchmark, namespace, protocol, loop):
    """The event loop against a thread per connection, the choice bulk.py
    makes for flows > 1 (compare the two rows of each protocol)."""
    benchmark.extra_info.update(bytes=MANY * MANY_BYTES, connections=MANY)
    run = many_evloop if loop == "evloop" else many_threads
    benchmark.pedantic(run, setup=lambda: ((many_pairs(namespace, protocol),), {}),
                       rounds=3, warmup_rounds=1)


BARE_C = Path(__file__).with_name("crr_bare.c")
CRR_S = 2.0
CRR_ROUNDS = 5


@pytest.fixture(scope="module")
def crr_bare(tmp_path_factory) -> Path:
    """tests/perf/crr_bare.c, built with the flags of the engine."""
    exe = tmp_path_factory.mktemp("crr") / "crr_bare"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(BARE_C)], check=True)
    return exe


@pytest.mark.parametrize("protocol", ("tcp", "mptcp"))
def test_crr_engine_against_a_bare_loop(benchmark, namespace, crr_bare, protocol):
    """Connections per second of the engine's one-client CRR loop and of a
    bare C connect/send/recv/close loop, against the same engine server:
    CRR_ROUNDS rounds, each the bare loop (pedantic's setup) then the
    engine's; every rate and the ratio of the medians are in extra_info
    (issue 26's goal: >= 1)."""
    lsock = netns.call_in(namespace, engine.open_socket, protocol, 4)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    engine.set_timeouts(lsock, 0.2)
    port = lsock.getsockname()[1]
    server: dict = {}
    t = threading.Thread(target=lambda: server.update(
        engine.crr_server(lsock, request=1, response=1, idle_timeout_s=10)))
    t.start()
    rates: dict[str, list[float]] = {"bare": [], "native": []}

    def bare():
        out = subprocess.run(["ip", "netns", "exec", namespace, str(crr_bare), protocol,
                              "127.0.0.1", str(port), str(CRR_S)],
                             capture_output=True, text=True, check=True)
        count, seconds = out.stdout.split()
        rates["bare"].append(int(count) / float(seconds))
        return (), {}

    def native():
        result = netns.call_in(namespace, engine.crr_client, protocol, 4, "127.0.0.1",
                               "127.0.0.1", port, request=1, response=1, duration_s=CRR_S)
        engine.raise_for(result)
        rates["native"].append(result["transactions"] / ((result["end_ns"] - result["start_ns"]) / 1e9))
    try:
        benchmark.pedantic(native, setup=bare, rounds=CRR_ROUNDS, iterations=1)
        med = {k: statistics.median(v) for k, v in rates.items()}
        benchmark.extra_info.update(bare_per_s=rates["bare"], native_per_s=rates["native"],
                                    native_over_bare=med["native"] / med["bare"])
    finally:
        last = netns.call_in(namespace, engine.open_socket, protocol, 4)
        with last:
            last.connect(("127.0.0.1", port))
            last.sendall(engine.END_REQUEST)
            last.recv(1)
        t.join(15)
        lsock.close()
    assert len(rates["native"]) == len(rates["bare"]) == CRR_ROUNDS
    assert server.get("transactions", 0) > 0
