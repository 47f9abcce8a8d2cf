"""The SYN flood's packets (checked against scapy and RFC 1071) and its pacer
(against a fake raw socket); tests/root/test_syn_flood.py floods a listener."""
import errno
import ipaddress
import socket
import struct
import threading
import time

import pytest
from scapy.layers.inet import IP, TCP

from harness.attack import flood

DST, DPORT, SOURCES = "198.18.0.1", 8080, "198.18.128.0/18"
OPTIONS = bytes([2, 4, 0x05, 0xB4, 1, 1, 4, 2, 1, 3, 3, 7])
MP_CAPABLE = bytes([30, 4, 0x01, 0x01])


def rfc1071(data: bytes) -> int:
    s = sum(struct.unpack(f"!{len(data) // 2}H", data + bytes(len(data) % 2)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def tuples(pkts):
    return [(p[12:16], struct.unpack_from("!H", p, 20)[0]) for p in pkts]


@pytest.mark.parametrize("mp", [False, True])
def test_checksums_match_scapys_and_verify(mp):
    for raw in flood.syn_segments(DST, DPORT, SOURCES, 200, mp):
        pkt = IP(raw)
        again = pkt.copy()
        again.chksum = None
        again[TCP].chksum = None
        rebuilt = IP(bytes(again))
        assert bytes(rebuilt) == raw
        assert (rebuilt.chksum, rebuilt[TCP].chksum) == (pkt.chksum, pkt[TCP].chksum)
        # and independently: each header sums to 0xFFFF with its checksum in
        pseudo = raw[12:20] + struct.pack("!BBH", 0, 6, len(raw) - 20)
        assert rfc1071(raw[:20]) == 0xFFFF
        assert rfc1071(pseudo + raw[20:]) == 0xFFFF


@pytest.mark.parametrize("mp", [False, True])
def test_headers_and_options(mp):
    options = OPTIONS + (MP_CAPABLE if mp else b"")
    for raw in flood.syn_segments(DST, DPORT, SOURCES, 100, mp):
        pkt = IP(raw)
        assert (pkt.version, pkt.ihl, pkt.len, pkt.proto, pkt.ttl) == (4, 5, len(raw), 6, 64)
        assert str(pkt.flags) == "DF" and pkt.frag == 0 and pkt.dst == DST
        tcp = pkt[TCP]
        assert tcp.dataofs * 4 == 20 + len(options) == len(raw) - 20 and not bytes(tcp.payload)
        assert (tcp.dport, str(tcp.flags), tcp.ack, tcp.urgptr) == (DPORT, "S", 0, 0)
        assert raw[40:] == options and len(options) % 4 == 0
        assert dict((k, v) for k, v in tcp.options if k != "NOP") == (
            {"MSS": 1460, "SAckOK": b"", "WScale": 7} | ({30: b"\x01\x01"} if mp else {}))


def test_sources_are_distinct_and_within_the_cidr():
    pkts = flood.syn_segments(DST, DPORT, SOURCES, 50_000, True)
    seen = tuples(pkts)
    assert len(set(seen)) == len(seen)
    net = ipaddress.ip_network(SOURCES)
    addresses = {ipaddress.ip_address(a) for a, _ in seen}
    assert all(a in net and a not in (net.network_address, net.broadcast_address) for a in addresses)
    assert len(addresses) > 10_000                      # spread over the /18, not one address
    assert all(1024 <= port < 65536 for _, port in seen)
    assert len({p[24:28] for p in pkts}) > 49_000       # random ISNs


def test_a_small_cidr_gives_every_tuple_once_then_refuses():
    space = 2 * 64512                                   # a /30: two hosts
    seen = tuples(flood.syn_segments(DST, DPORT, "198.18.128.0/30", space, False))
    assert len(set(seen)) == space
    assert {socket.inet_ntoa(a) for a, _ in seen} == {"198.18.128.1", "198.18.128.2"}
    with pytest.raises(ValueError):
        flood.syn_segments(DST, DPORT, "198.18.128.0/30", space + 1, False)


def test_the_seed_decides_the_packets():
    one = flood.syn_segments(DST, DPORT, SOURCES, 50, False, seed=7)
    assert one == flood.syn_segments(DST, DPORT, SOURCES, 50, False, seed=7)
    assert set(one).isdisjoint(flood.syn_segments(DST, DPORT, SOURCES, 50, False, seed=8))


class FakeRaw:
    """A raw socket that records what it is given; slow or failing on demand."""

    def __init__(self, delay_s=0.0, fail_every=0):
        self.sent, self.delay_s, self.fail_every, self.calls = [], delay_s, fail_every, 0

    def sendto(self, data, addr):
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_every and self.calls % self.fail_every == 0:
            raise OSError(errno.ENOBUFS, "No buffer space available")
        self.sent.append((time.monotonic(), data, addr))

    def close(self):
        pass


@pytest.fixture
def raw(monkeypatch):
    box = {}

    def make(**kw):
        box["sock"] = FakeRaw(**kw)
        monkeypatch.setattr(flood, "_raw_socket", lambda: box["sock"])
        return box["sock"]
    return make


def test_flood_paces_at_the_rate_with_new_tuples(raw):
    sock = raw()
    res = flood.flood(DST, DPORT, SOURCES, 2000, 0.5, True)
    assert res["sent"] == len(sock.sent) and abs(res["sent"] - 1000) <= 100
    assert res["errors"] == 0 and res["rate_pps"] == 2000 and res["mp_capable"] and res["sources"] == SOURCES
    assert res["achieved_pps"] == pytest.approx(res["sent"] / res["duration_s"])
    assert 0.5 <= res["duration_s"] < 0.6
    times = [t for t, _, _ in sock.sent]
    per_50ms = [sum(1 for t in times if times[0] + i * 0.05 <= t < times[0] + (i + 1) * 0.05) for i in range(9)]
    assert max(per_50ms) <= 125 and min(per_50ms) >= 50, per_50ms    # paced, not bursts
    assert {a for _, _, a in sock.sent} == {(DST, 0)}
    seen = tuples(d for _, d, _ in sock.sent)
    assert len(set(seen)) == len(seen)
    assert all(d[40:] == OPTIONS + MP_CAPABLE for _, d, _ in sock.sent)


def test_flood_says_when_it_cannot_keep_up(raw):
    raw(delay_s=0.001)                                  # at most ~1000 pps
    res = flood.flood(DST, DPORT, SOURCES, 5000, 0.3, False)
    assert res["achieved_pps"] < 0.5 * res["rate_pps"] and res["sent"] > 50


def test_flood_counts_errors_and_stops_on_the_event(raw):
    raw(fail_every=4)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    res = flood.flood(DST, DPORT, SOURCES, 1000, 10.0, False, stop=stop)
    assert res["duration_s"] < 0.5
    assert res["errors"] > 0 and abs(res["errors"] * 3 - res["sent"]) <= 3


def test_flood_refuses_what_it_cannot_do(raw):
    raw()
    with pytest.raises(ValueError):
        flood.flood(DST, DPORT, SOURCES, 0, 1.0, False)
    with pytest.raises(ValueError):                    # 129024 tuples: they would recur within 10 s
        flood.flood(DST, DPORT, "198.18.128.0/30", 20_000, 1.0, False)
