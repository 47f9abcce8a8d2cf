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

from harness import _engine, limits
from harness.host import sockinfo

PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "mptcp": sockinfo.IPPROTO_MPTCP}
SEND_MODES, RECV_MODES, ZERO_COPY_MODES = limits.SEND_MODES, limits.RECV_MODES, limits.ZERO_COPY_MODES
LIBURING: bool = _engine.LIBURING
END_REQUEST = b"E"   # first byte of CRR's last request: the server stops after it


def errno_name(err: int | None) -> str:
    """The symbolic name of an errno.  95 is named EOPNOTSUPP, as the kernel
    and its documentation name what MPTCP answers (Python's table says
    ENOTSUP, the same number on Linux)."""
    if err == errno.EOPNOTSUPP:
        return "EOPNOTSUPP"
    return errno.errorcode.get(err, str(err))


class EngineError(Exception):
    """A system call failed; carries the call and errno name for the record.
    `unsupported` marks a refused capability (a mode this socket cannot do)
    rather than a failed transfer."""

    def __init__(self, call: str, err: int, *, unsupported: bool = False,
                 detail: str | None = None, mode: str | None = None, partial: dict | None = None):
        self.call, self.errno, self.unsupported = call, err, unsupported
        self.detail, self.mode = detail, mode
        # What the failed end had moved before it failed: {"loop": its loop result}.
        self.partial = partial
        self.errno_name = errno_name(err)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.unsupported and self.detail and not self.mode:
            return self.detail      # a limit, not a mode: the detail is the sentence
        if self.unsupported:
            what = self.detail or f"{self.call}: {self.errno_name}"
            return f"{self.mode or 'mode'} unsupported: {what}"
        return f"{self.call}: {self.errno_name} ({os.strerror(self.errno)})"

    def as_dict(self) -> dict:
        out = {"call": self.call, "errno": self.errno_name, "message": str(self),
               "unsupported": self.unsupported, "mode": self.mode}
        return {**out, "partial": self.partial} if self.partial else out


def open_socket(protocol: str, family: int) -> socket.socket:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        return socket.socket(af, socket.SOCK_STREAM, PROTOCOLS[protocol])
    except OSError as exc:
        raise EngineError(f"socket(AF_INET{'' if family == 4 else '6'}, SOCK_STREAM, "
                          f"IPPROTO_{protocol.upper()})", exc.errno) from None


def set_timeouts(sock: socket.socket, seconds: float) -> None:
    """Bound each blocking send/recv/accept so the C loops can honour
    deadlines (the socket must be in blocking mode: settimeout(None))."""
    tv = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)


def raise_for(result: dict, mode: str | None = None, keep: bool = False) -> dict:
    """The loop's result, or EngineError when its loop failed (with `keep`,
    carrying the loop's result: a bulk loop's is plain data)."""
    err = result["error"]
    if err:
        raise EngineError(err["call"], err["errno"], unsupported=err["unsupported"],
                          detail=err["detail"], mode=mode,
                          partial={"loop": result} if keep and not err["unsupported"] else None)
    return result


def mode_support(mode: str, result: dict) -> dict:
    """What a mode really did in a completed loop.  A zero-copy mode that
    sent but received no completion at all was not zero-copy (the flag was
    ignored): that is `unsupported`, never a zero-copy figure."""
    out = {"mode": mode, "status": "works", "reason": None}
    zc = result.get("zc")
    if zc is None:
        return out
    out.update(zc_requests=zc["requests"], zc_completions=zc["completions"],
               zc_copied=zc["copied"], zc_enobufs=zc.get("enobufs", 0))
    if zc["requests"] and not zc["completions"]:
        out["status"] = "unsupported"
        out["reason"] = (f"no zero-copy completion for {zc['requests']} sends: "
                         "the kernel ignored the zero-copy request")
    elif zc["completions"] < zc["requests"]:
        out["reason"] = f"{zc['requests'] - zc['completions']} completions still missing at the end"
    return out


def bulk_send(sock: socket.socket, *, duration_s: float = 0, max_bytes: int = 0,
              bufsize: int = 128 * 1024, interval_ms: float = 100, mode: str = "send",
              seed: int = 1, corrupt_at: int = -1) -> dict:
    """Sends the seeded pattern; `corrupt_at` (a test hook) inverts the byte
    at that stream offset so that verification can be shown to catch it."""
    return _engine.bulk_send(sock.fileno(), duration_ns=int(duration_s * 1e9),
                             max_bytes=max_bytes, bufsize=bufsize,
                             interval_ns=int(interval_ms * 1e6), mode=mode, seed=seed,
                             corrupt_at=corrupt_at)


def bulk_recv(sock: socket.socket, *, bufsize: int = 128 * 1024, interval_ms: float = 100,
              idle_timeout_s: float = 10, mode: str = "recv",
              verify_seed: int | None = None, lowat: int = 0) -> dict:
    """Receives to EOF; with verify_seed, checks every byte against the
    sender's pattern (same seed, same bufsize).  lowat > 0 sets SO_RCVLOWAT:
    the kernel wakes the receiver only once that many bytes are queued, and
    each call asks for max(bufsize, lowat)."""
    return _engine.bulk_recv(sock.fileno(), bufsize=bufsize, interval_ns=int(interval_ms * 1e6),
                             idle_timeout_ns=int(idle_timeout_s * 1e9), mode=mode,
                             verify_seed=verify_seed, lowat=lowat)


# What the event loop runs; the other modes run one thread per connection.
EVLOOP_SEND_MODES = ("send",)
EVLOOP_RECV_MODES = ("recv", "trunc")


def evloop_send(socks: list[socket.socket], *, threads: int, duration_s: float = 0,
                max_bytes: int = 0, bufsize: int = 128 * 1024, interval_ms: float = 100,
                seed: int = 1) -> dict:
    """bulk_send on every socket at once, from `threads` threads of one
    epoll loop each; every connection is shut down for writing when its
    sending ends.  {"loop": merged, "flows": [per connection], "threads"}."""
    return _engine.evloop_send([s.fileno() for s in socks], threads=threads,
                               duration_ns=int(duration_s * 1e9), max_bytes=max_bytes,
                               bufsize=bufsize, interval_ns=int(interval_ms * 1e6), seed=seed)


def evloop_recv(socks: list[socket.socket], *, threads: int, bufsize: int = 128 * 1024,
                interval_ms: float = 100, idle_timeout_s: float = 10, mode: str = "recv",
                verify_seed: int | None = None, lowat: int = 0) -> dict:
    """bulk_recv on every socket at once, to each one's EOF (see evloop_send)."""
    return _engine.evloop_recv([s.fileno() for s in socks], threads=threads, bufsize=bufsize,
                               interval_ns=int(interval_ms * 1e6),
                               idle_timeout_ns=int(idle_timeout_s * 1e9), mode=mode,
                               verify_seed=verify_seed, lowat=lowat)


def rr_client(socks: list[socket.socket], *, request: int, response: int,
              duration_s: float = 0, max_transactions: int = 0, idle_timeout_s: float = 10,
              interval_ms: float = 100, pace_ms: float = 0) -> dict:
    """pace_ms (one flow): a request at most every pace_ms, the connection
    idle in between; 0: back to back."""
    return _engine.rr_client([s.fileno() for s in socks], request=request, response=response,
                             duration_ns=int(duration_s * 1e9), max_transactions=max_transactions,
                             idle_timeout_ns=int(idle_timeout_s * 1e9),
                             interval_ns=int(interval_ms * 1e6), pace_ns=int(pace_ms * 1e6))


def rr_server(socks: list[socket.socket], *, request: int, response: int,
              idle_timeout_s: float = 10, interval_ms: float = 100) -> dict:
    return _engine.rr_server([s.fileno() for s in socks], request=request, response=response,
                             idle_timeout_ns=int(idle_timeout_s * 1e9),
                             interval_ns=int(interval_ms * 1e6))


def crr_client(protocol: str, family: int, bind: str, connect: str, port: int, *,
               request: int, response: int, duration_s: float = 0, max_transactions: int = 0,
               idle_timeout_s: float = 10, interval_ms: float = 100, clients: int = 1) -> dict:
    """CRR from `clients` concurrent clients: one runs a blocking loop,
    several share one epoll loop of non-blocking sockets."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    return _engine.crr_client(af, PROTOCOLS[protocol], bind, connect, port, request=request,
                              response=response, duration_ns=int(duration_s * 1e9),
                              max_transactions=max_transactions,
                              idle_timeout_ns=int(idle_timeout_s * 1e9),
                              interval_ns=int(interval_ms * 1e6), clients=clients)


def crr_server(listener: socket.socket, *, request: int, response: int,
               idle_timeout_s: float = 10, interval_ms: float = 100) -> dict:
    return _engine.crr_server(listener.fileno(), request=request, response=response,
                              idle_timeout_ns=int(idle_timeout_s * 1e9),
                              interval_ns=int(interval_ms * 1e6))


def exchange(socks: list[socket.socket], *, send: bytes | None = None,
             idle_timeout_s: float = 10) -> dict:
    """The end of a transfer over many connections, in C: send `send` (one
    byte) on each, then read one byte or EOF from each.  {got: the byte
    value per connection or -1 at EOF, cpu_ns: the C code's CPU time};
    a failed call raises EngineError."""
    result = _engine.exchange([s.fileno() for s in socks], send=send[0] if send else -1,
                              idle_timeout_ns=int(idle_timeout_s * 1e9))
    if result["errno"]:
        raise EngineError(result["call"], result["errno"])
    return result


def subflows(fd: int, full_info: bool = True) -> dict:
    """Per-subflow detail: MPTCP_FULL_INFO in one call, or on kernels
    without it (before 6.9) MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS."""
    if full_info:
        try:
            return sockinfo.parse_full_info(_engine.mptcp_full_info(fd))
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOPROTOOPT, errno.EINVAL):
                raise
    tcp = _engine.mptcp_subflow_data(fd, sockinfo.MPTCP_TCPINFO)
    addrs = _engine.mptcp_subflow_data(fd, sockinfo.MPTCP_SUBFLOW_ADDRS)
    return sockinfo.parse_subflow_data(tcp, addrs)


def introspect(sock: socket.socket) -> dict:
    """What the kernel says about a connected socket: its protocol, tcp_info
    (first subflow for MPTCP), and MPTCP_INFO plus per-subflow detail, each
    either parsed or replaced by the errno that refused it (after a fallback
    to TCP every SOL_MPTCP option answers EOPNOTSUPP)."""
    out: dict = {"so_protocol": sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}
    out["tcp_info"] = sockinfo.parse_tcp_info(
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512))
    if out["so_protocol"] != sockinfo.IPPROTO_MPTCP:
        return out
    try:
        out["mptcp_info"] = sockinfo.parse_mptcp_info(
            sock.getsockopt(sockinfo.SOL_MPTCP, sockinfo.MPTCP_INFO, 256))
    except OSError as exc:
        out["mptcp_info_error"] = errno_name(exc.errno)
        return out
    try:
        out["full_info"] = subflows(sock.fileno())
    except OSError as exc:
        out["full_info_error"] = errno_name(exc.errno)
    return out
