"""Parsing of the kernel's socket introspection structs: tcp_info,
mptcp_info and MPTCP_FULL_INFO's per-subflow records.  Pure functions on
bytes, so they are tested on captured buffers.

Struct sizes grow with kernel versions: every parser reads only the fields
that lie entirely inside the buffer the kernel returned.
"""
from __future__ import annotations

import socket
import struct

SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_TCPINFO = 2
MPTCP_SUBFLOW_ADDRS = 3
MPTCP_FULL_INFO = 4
IPPROTO_MPTCP = 262
MPTCP_INFO_FLAG_FALLBACK = 0x1

# (name, offset, struct format) from include/uapi/linux/tcp.h
TCP_INFO_FIELDS = (
    ("state", 0, "B"), ("ca_state", 1, "B"), ("retransmits", 2, "B"),
    ("rto", 8, "I"), ("snd_mss", 16, "I"), ("rcv_mss", 20, "I"),
    ("unacked", 24, "I"), ("lost", 32, "I"), ("retrans", 36, "I"),
    ("pmtu", 60, "I"), ("rtt", 68, "I"), ("rttvar", 72, "I"),
    ("snd_ssthresh", 76, "I"), ("snd_cwnd", 80, "I"), ("reordering", 88, "I"),
    ("total_retrans", 100, "I"), ("pacing_rate", 104, "Q"),
    ("bytes_acked", 120, "Q"), ("bytes_received", 128, "Q"),
    ("segs_out", 136, "I"), ("segs_in", 140, "I"), ("min_rtt", 148, "I"),
    ("data_segs_in", 152, "I"), ("data_segs_out", 156, "I"),
    ("delivery_rate", 160, "Q"), ("busy_time", 168, "Q"),
    ("rwnd_limited", 176, "Q"), ("sndbuf_limited", 184, "Q"),
    ("delivered", 192, "I"), ("bytes_sent", 200, "Q"), ("bytes_retrans", 208, "Q"),
    ("dsack_dups", 216, "I"), ("reord_seen", 220, "I"), ("rcv_ooopack", 224, "I"),
    ("snd_wnd", 228, "I"), ("rcv_wnd", 232, "I"),
)

# include/uapi/linux/mptcp.h, struct mptcp_info (96 bytes on 6.18)
MPTCP_INFO_FIELDS = (
    ("subflows", 0, "B"), ("add_addr_signal", 1, "B"), ("add_addr_accepted", 2, "B"),
    ("subflows_max", 3, "B"), ("add_addr_signal_max", 4, "B"),
    ("add_addr_accepted_max", 5, "B"), ("flags", 8, "I"), ("token", 12, "I"),
    ("write_seq", 16, "Q"), ("snd_una", 24, "Q"), ("rcv_nxt", 32, "Q"),
    ("local_addr_used", 40, "B"), ("local_addr_max", 41, "B"), ("csum_enabled", 42, "B"),
    ("retransmits", 44, "I"), ("bytes_retrans", 48, "Q"), ("bytes_sent", 56, "Q"),
    ("bytes_received", 64, "Q"), ("bytes_acked", 72, "Q"), ("subflows_total", 80, "B"),
    ("last_data_sent", 84, "I"), ("last_data_recv", 88, "I"), ("last_ack_recv", 92, "I"),
)


def _compiled(fields) -> tuple:
    """(name, offset, struct.Struct) per field, made once at import: the
    subflow sampler parses these structs every interval."""
    return tuple((name, offset, struct.Struct("=" + fmt)) for name, offset, fmt in fields)


_TCP_INFO, _MPTCP_INFO = _compiled(TCP_INFO_FIELDS), _compiled(MPTCP_INFO_FIELDS)


def _parse(buf: bytes, fields) -> dict[str, int]:
    return {name: st.unpack_from(buf, offset)[0] for name, offset, st in fields
            if offset + st.size <= len(buf)}


def parse_tcp_info(buf: bytes) -> dict[str, int]:
    return _parse(buf, _TCP_INFO)


def parse_mptcp_info(buf: bytes) -> dict[str, int]:
    info = _parse(buf, _MPTCP_INFO)
    if "flags" in info:
        info["fallback"] = bool(info["flags"] & MPTCP_INFO_FLAG_FALLBACK)
    return info


def parse_sockaddr(buf: bytes) -> tuple[str, int] | None:
    """A sockaddr_in or sockaddr_in6 at the start of buf, or None."""
    if len(buf) < 2:
        return None
    family = struct.unpack_from("=H", buf)[0]
    if family == socket.AF_INET and len(buf) >= 8:
        port = struct.unpack_from("!H", buf, 2)[0]
        return socket.inet_ntop(socket.AF_INET, buf[4:8]), port
    if family == socket.AF_INET6 and len(buf) >= 24:
        port = struct.unpack_from("!H", buf, 2)[0]
        return socket.inet_ntop(socket.AF_INET6, buf[8:24]), port
    return None


# struct mptcp_subflow_addrs: two 128-byte sockaddr_storage unions, local
# then remote.  struct mptcp_subflow_info (MPTCP_FULL_INFO) puts a u32 id
# before them, the addresses starting 8-byte aligned.
_SS = 128
_SF_ADDRS = 8

SUBFLOW_KEYS = ("state", "rtt", "snd_cwnd", "snd_mss", "total_retrans", "bytes_sent",
                "bytes_acked", "bytes_received", "bytes_retrans", "delivery_rate",
                "rcv_ooopack", "reord_seen", "dsack_dups")


def _addresses(addrs: bytes) -> dict:
    local = parse_sockaddr(addrs[:_SS])
    remote = parse_sockaddr(addrs[_SS:2 * _SS])
    return {"local": f"{local[0]}:{local[1]}" if local else None,
            "remote": f"{remote[0]}:{remote[1]}" if remote else None,
            "local_address": local[0] if local else None}


def _subflow(sf_id: int | None, addrs: bytes, tcpinfo: bytes) -> dict:
    out: dict = {"id": sf_id, **_addresses(addrs)}
    out.update({k: v for k, v in parse_tcp_info(tcpinfo).items() if k in SUBFLOW_KEYS})
    return out


def parse_subflow(sfinfo: bytes, tcpinfo: bytes) -> dict:
    """One MPTCP_FULL_INFO element pair (mptcp_subflow_info, tcp_info)."""
    sf_id = struct.unpack_from("=I", sfinfo)[0] if len(sfinfo) >= 4 else None
    return _subflow(sf_id, sfinfo[_SF_ADDRS:], tcpinfo)


def parse_full_info(raw: dict) -> dict:
    """The dict returned by _engine.mptcp_full_info, parsed."""
    return {
        "source": "MPTCP_FULL_INFO",
        "num_subflows": raw["num_subflows"],
        "size_tcpinfo_kernel": raw["size_tcpinfo_kernel"],
        "size_sfinfo_kernel": raw["size_sfinfo_kernel"],
        "mptcp_info": parse_mptcp_info(raw["mptcp_info"]),
        "subflows": [parse_subflow(sf, ti) for sf, ti in raw["subflows"]],
    }


def parse_subflow_data(tcpinfo: dict, addrs: dict) -> dict:
    """MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS (each as returned by
    _engine.mptcp_subflow_data), for kernels without MPTCP_FULL_INFO.  The
    two calls are not atomic: a subflow that came or went between them is
    left out (the shorter list wins), and subflow ids are not available."""
    pairs = zip(addrs["elements"], tcpinfo["elements"])
    return {
        "source": "MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS",
        "num_subflows": min(tcpinfo["num_subflows"], addrs["num_subflows"]),
        "size_tcpinfo_kernel": tcpinfo["size_kernel"],
        "size_sfinfo_kernel": addrs["size_kernel"],
        "subflows": [_subflow(None, a, t) for a, t in pairs],
    }
