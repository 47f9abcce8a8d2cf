"""The traffic engine's Python face: sockets are made here, bytes are moved
by the C loops in harness._engine with the GIL released.

The protocol (TCP or MPTCP) is a parameter of socket creation only; every
loop and every measurement is shared.
"""
from __future__ import annotations

import errno
import os
import socket
import struct

from harness import _engine, sockinfo

PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "mptcp": sockinfo.IPPROTO_MPTCP}
SEND_MODES = _engine.SEND_MODES
RECV_MODES = _engine.RECV_MODES


class EngineError(Exception):
    """A system call failed; carries the call and errno name for the record."""

    def __init__(self, call: str, err: int):
        self.call, self.errno = call, err
        self.errno_name = errno.errorcode.get(err, str(err))
        super().__init__(f"{call}: {self.errno_name} ({os.strerror(err)})")

    def as_dict(self) -> dict:
        return {"call": self.call, "errno": self.errno_name, "message": str(self)}


def open_socket(protocol: str, family: int) -> socket.socket:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        return socket.socket(af, socket.SOCK_STREAM, PROTOCOLS[protocol])
    except OSError as exc:
        raise EngineError(f"socket(AF_INET{'' if family == 4 else '6'}, SOCK_STREAM, "
                          f"IPPROTO_{protocol.upper()})", exc.errno) from None


def set_timeouts(sock: socket.socket, seconds: float) -> None:
    """Bound each blocking send/recv so the C loops can honour deadlines."""
    tv = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)


def _checked(result: dict) -> dict:
    err = result.pop("error")
    if err:
        result["error"] = EngineError(err["call"], err["errno"]).as_dict()
    else:
        result["error"] = None
    return result


def bulk_send(sock: socket.socket, *, duration_s: float = 0, max_bytes: int = 0,
              bufsize: int = 128 * 1024, interval_ms: float = 100, mode: str = "send") -> dict:
    return _checked(_engine.bulk_send(sock.fileno(), duration_ns=int(duration_s * 1e9),
                                      max_bytes=max_bytes, bufsize=bufsize,
                                      interval_ns=int(interval_ms * 1e6), mode=mode))


def bulk_recv(sock: socket.socket, *, bufsize: int = 128 * 1024, interval_ms: float = 100,
              idle_timeout_s: float = 10, mode: str = "recv") -> dict:
    return _checked(_engine.bulk_recv(sock.fileno(), bufsize=bufsize,
                                      interval_ns=int(interval_ms * 1e6),
                                      idle_timeout_ns=int(idle_timeout_s * 1e9), mode=mode))


def introspect(sock: socket.socket) -> dict:
    """What the kernel says about a connected socket: its protocol, tcp_info
    (first subflow for MPTCP), and MPTCP_INFO / MPTCP_FULL_INFO, each either
    parsed or replaced by the errno that refused it (after a fallback to
    TCP every SOL_MPTCP option answers EOPNOTSUPP)."""
    out: dict = {"so_protocol": sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}
    out["tcp_info"] = sockinfo.parse_tcp_info(
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512))
    if out["so_protocol"] != sockinfo.IPPROTO_MPTCP:
        return out
    try:
        out["mptcp_info"] = sockinfo.parse_mptcp_info(
            sock.getsockopt(sockinfo.SOL_MPTCP, sockinfo.MPTCP_INFO, 256))
    except OSError as exc:
        out["mptcp_info_error"] = errno.errorcode.get(exc.errno, str(exc.errno))
        return out
    try:
        out["full_info"] = sockinfo.parse_full_info(_engine.mptcp_full_info(sock.fileno()))
    except OSError as exc:  # kernels before 6.9 lack MPTCP_FULL_INFO
        out["full_info_error"] = errno.errorcode.get(exc.errno, str(exc.errno))
    return out
