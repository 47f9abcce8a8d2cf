"""What the attacker reads off its interface: IPv4 TCP segments parsed from
Ethernet frames (struct, not scapy: the mirror of a loaded link carries
thousands of frames a second), and what it writes: segments built with
scapy, sent from a raw socket.  A tuple is (src, sport, dst, dport)."""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OTHERHOST, PACKET_OUTGOING = 3, 4     # sll_pkttype: a mirrored copy, our own
SO_TIMESTAMPNS = 35
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass
class Segment:
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload_len: int
    options: list[tuple[int, bytes]] = field(default_factory=list)
    at: float = 0.0

    @property
    def tuple(self) -> tuple[str, int, str, int]:
        return self.src, self.sport, self.dst, self.dport

    def has(self, flags: int) -> bool:
        return self.flags & flags == flags

    def option(self, kind: int) -> list[bytes]:
        return [v for k, v in self.options if k == kind]


def parse_options(raw: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        length = raw[i + 1]
        out.append((kind, raw[i + 2:i + length]))
        i += length
    return out


def parse_frame(frame: bytes, at: float = 0.0) -> Segment | None:
    """The IPv4 TCP segment in an Ethernet frame (arrived at `at`, Unix
    time), or None."""
    if len(frame) < 34 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != socket.IPPROTO_TCP or len(frame) < 14 + ihl + 20:
        return None
    total = struct.unpack_from("!H", frame, 16)[0]
    t = 14 + ihl
    sport, dport, seq, ack, off, flags, window = struct.unpack_from("!HHIIBBH", frame, t)
    doff = (off >> 4) * 4
    return Segment(socket.inet_ntoa(frame[26:30]), sport, socket.inet_ntoa(frame[30:34]), dport,
                   seq, ack, flags, window, max(0, total - ihl - doff),
                   parse_options(frame[t + 20:t + doff]), at)


def capture_socket(iface: str) -> socket.socket:
    """A packet socket on `iface` that stamps each frame with its arrival."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((iface, 0))
    s.settimeout(0.2)
    return s


def receive(sock: socket.socket) -> tuple[bytes, int, float]:
    """(frame, its packet type, its arrival in Unix time): the kernel's
    stamp, so a reader that lags behind still knows how old a frame is."""
    frame, ancillary, _, address = sock.recvmsg(65536, 64)
    at = time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("qq", data)
            at = sec + nsec / 1e9
    return frame, address[2], at


class Sender:
    """IPv4 packets with their own headers (IP_HDRINCL) from a raw socket:
    a forged source address is sent as given."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.sent = 0

    def tcp(self, src: str, sport: int, dst: str, dport: int, seq: int, ack: int, flags: int,
            window: int = 65535, options: list | None = None, payload: bytes = b"") -> None:
        pkt = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq & 0xFFFFFFFF,
                                         ack=ack & 0xFFFFFFFF, flags=flags, window=window,
                                         options=options or []) / payload
        self.sock.sendto(bytes(pkt), (dst, 0))
        self.sent += 1

    def close(self) -> None:
        self.sock.close()
