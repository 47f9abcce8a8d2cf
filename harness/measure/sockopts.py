"""Which socket options an application can set on MPTCP, against TCP, on
the running kernel: "Are there unsupported TCP options?" answered by trying.

Every option is set with a value a real application would use, then read
back, on four sockets per protocol: a client before connect(), the same
client connected, a listener, and the connection it accepted.  It all
happens in a new, nameless network namespace made by a thread (loopback
only), so nothing outside it is touched and nothing is left behind.

An option that TCP refuses too, with the same errno, is "unavailable on
this kernel" (a feature not built in, such as kTLS without CONFIG_TLS),
never "unsupported by MPTCP".
"""
from __future__ import annotations

import errno
import socket
import struct
import subprocess
import time
from dataclasses import dataclass

from harness.host import netns, sysctl

IPPROTO_MPTCP = 262
SOL_TCP, SOL_SOCKET, SOL_IP, SOL_IPV6 = socket.IPPROTO_TCP, socket.SOL_SOCKET, 0, 41
ROLES = ("client", "connected", "listener", "accepted")
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Option:
    name: str
    level: int
    number: int
    value: int | bytes           # what is set
    roles: tuple[str, ...] = ROLES
    family: int = 4
    readable: bool = True         # getsockopt gives the value back
    connects: bool = True         # the client connects after it (a one-sided MD5 key cannot)
    ulp: str | None = None        # an upper-layer protocol the kernel must have loaded already

    def set_on(self, sock: socket.socket) -> None:
        sock.setsockopt(self.level, self.number, self.value)

    def read_from(self, sock: socket.socket):
        if isinstance(self.value, bytes):
            raw = sock.getsockopt(self.level, self.number, max(len(self.value), 64))
            return raw.split(b"\0", 1)[0].decode(errors="replace")
        return sock.getsockopt(self.level, self.number)


def _md5sig() -> bytes:
    """struct tcp_md5sig for 127.0.0.1 with a 4-byte key."""
    addr = struct.pack("=H2s4s120x", socket.AF_INET, b"\0\0", socket.inet_aton("127.0.0.1"))
    return addr + struct.pack("=BBHi80s", 0, 0, 4, 0, b"key!")


OPTIONS = (
    Option("TCP_NODELAY", SOL_TCP, 1, 1),
    Option("TCP_CORK", SOL_TCP, 3, 1),
    Option("TCP_MAXSEG", SOL_TCP, 2, 1200),
    Option("TCP_KEEPIDLE", SOL_TCP, 4, 30),
    Option("TCP_KEEPINTVL", SOL_TCP, 5, 10),
    Option("TCP_KEEPCNT", SOL_TCP, 6, 3),
    Option("TCP_USER_TIMEOUT", SOL_TCP, 18, 5000),
    Option("TCP_CONGESTION", SOL_TCP, 13, b"reno"),
    Option("TCP_NOTSENT_LOWAT", SOL_TCP, 25, 65536),
    Option("TCP_INQ", SOL_TCP, 36, 1),
    Option("TCP_FASTOPEN", SOL_TCP, 23, 5, roles=("listener",)),
    Option("TCP_FASTOPEN_CONNECT", SOL_TCP, 30, 1, roles=("client",)),
    Option("TCP_DEFER_ACCEPT", SOL_TCP, 9, 5, roles=("listener",)),
    Option("TCP_QUICKACK", SOL_TCP, 12, 1),
    Option("TCP_MD5SIG", SOL_TCP, 14, _md5sig(), readable=False, connects=False),
    # Only when tls is loaded: setting it would make the kernel load the
    # module, a change outside the probe's namespace.
    Option("TCP_ULP", SOL_TCP, 31, b"tls", roles=("connected",), ulp="tls"),
    Option("TCP_REPAIR", SOL_TCP, 19, 1, roles=("client",)),
    Option("SO_ZEROCOPY", SOL_SOCKET, 60, 1),
    Option("SO_TIMESTAMPING", SOL_SOCKET, 37, 0x1 | 0x2 | 0x8 | 0x40),   # TX/RX software
    Option("SO_BINDTODEVICE", SOL_SOCKET, 25, b"lo"),
    Option("SO_MARK", SOL_SOCKET, 36, 7),
    Option("SO_REUSEPORT", SOL_SOCKET, 15, 1),
    Option("SO_RCVLOWAT", SOL_SOCKET, 18, 4096),
    Option("SO_KEEPALIVE", SOL_SOCKET, 9, 1),
    Option("IP_TOS", SOL_IP, 1, 0x10),
    Option("IPV6_TCLASS", SOL_IPV6, 67, 0x10, family=6),
)


EFFECT = "on the wire"      # a pseudo-role: what an option did, where that is cheap to see
FASTOPEN_SYSCTL = "net.ipv4.tcp_fastopen"


def probe() -> dict:
    """{option: {role: {protocol: {set, errno, read}}}} on this kernel, and
    for TCP_FASTOPEN_CONNECT whether data really went in the SYN."""
    can_enable_tfo = sysctl.scope(FASTOPEN_SYSCTL) == sysctl.PER_NETNS

    def inside() -> dict:
        _loopback_up()
        out = {o.name: {role: {proto: _try(o, role, proto) for proto in ("tcp", "mptcp")}
                        for role in o.roles} for o in OPTIONS}
        if can_enable_tfo:
            out["TCP_FASTOPEN_CONNECT"][EFFECT] = {p: _fastopen(p) for p in ("tcp", "mptcp")}
        for name, effect in _subflow_effects().items():
            out[name][EFFECT] = effect
        return out
    return netns.call_in_new(inside, "probing socket options")


def _fastopen(proto: str) -> dict:
    """Two connections with TCP_FASTOPEN_CONNECT to a TCP_FASTOPEN listener
    (this namespace's net.ipv4.tcp_fastopen = 3): the first fetches a
    cookie, the second should carry its first bytes in the SYN, which the
    listener's TCPFastOpenPassive counter shows."""
    with open("/proc/sys/" + FASTOPEN_SYSCTL.replace(".", "/"), "w") as f:
        f.write("3")
    number = IPPROTO_MPTCP if proto == "mptcp" else socket.IPPROTO_TCP
    before = _tcpext()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, number) as lsock:
            lsock.settimeout(TIMEOUT_S)
            lsock.setsockopt(SOL_TCP, 23, 5)
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(5)
            for _ in range(2):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM, number) as c:
                    c.settimeout(TIMEOUT_S)
                    c.setsockopt(SOL_TCP, 30, 1)
                    c.connect(lsock.getsockname())
                    c.sendall(b"hello")
                    conn, _ = lsock.accept()
                    with conn:
                        conn.recv(16)
    except OSError as exc:
        return {"set": "refused", "errno": errno.errorcode.get(exc.errno, str(exc.errno)),
                "read": None}
    moved = {k: _tcpext().get(k, 0) - before.get(k, 0)
             for k in ("TCPFastOpenActive", "TCPFastOpenPassive", "TCPFastOpenCookieReqd")}
    passive = moved["TCPFastOpenPassive"] > 0
    return {"set": "ok", "errno": None, "effect_ok": passive, "counters": moved,
            "read": "data in the SYN" if passive else "no data in the SYN"}


SUBFLOW_EFFECTS = {"IP_TOS": ("tos:0x10", 0x10), "TCP_CONGESTION": ("reno", b"reno")}


def _subflow_effects() -> dict:
    """{option: {protocol: result}} of the subflow checks; a check that
    cannot run here is recorded as not tried, never a failed probe."""
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        _second_subflow_endpoint()
        seen = {p: _on_subflows(p) for p in ("tcp", "mptcp")}
    except (OSError, NetlinkError, subprocess.SubprocessError) as exc:
        failed = {"set": "not tried", "errno": f"the subflow check could not run: {exc}",
                  "read": None}
        return {name: {"tcp": failed, "mptcp": failed} for name in SUBFLOW_EFFECTS}
    return {name: {p: seen[p][name] for p in seen} for name in SUBFLOW_EFFECTS}


def _second_subflow_endpoint() -> None:
    """An MPTCP endpoint on 127.0.0.2, so that a connection opens a second
    subflow on loopback."""
    from pyroute2.netlink.generic.mptcp import MPTCP

    from harness.net import pathmanager
    with MPTCP() as pm:
        pm.limits("set", subflows=2, add_addr_accepted=2)
        pm.endpoint("add", addr4="127.0.0.2", flags=pathmanager.flags_value(("subflow",)))


def _on_subflows(proto: str) -> dict:
    """IP_TOS and TCP_CONGESTION set on a client before connect(): does
    every TCP socket that carries the connection (each MPTCP subflow) have
    them?  What `ss --tos -ti` shows of the client's side, per option."""
    number = IPPROTO_MPTCP if proto == "mptcp" else socket.IPPROTO_TCP
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, number) as lsock, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM, number) as client:
        lsock.settimeout(TIMEOUT_S)
        client.settimeout(TIMEOUT_S)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(2)
        for name, (_, value) in SUBFLOW_EFFECTS.items():
            o = next(o for o in OPTIONS if o.name == name)
            client.setsockopt(o.level, o.number, value)
        client.connect(lsock.getsockname())
        conn, _ = lsock.accept()
        with conn:
            client.sendall(b"x" * 65536)    # a fully established connection opens its joins
            conn.recv(65536)
            lines = _client_sockets(lsock.getsockname()[1], want=2 if proto == "mptcp" else 1)
    out = {}
    for name, (mark, _) in SUBFLOW_EFFECTS.items():
        marked = sum(mark in line for line in lines)
        out[name] = {"set": "ok", "errno": None, "effect_ok": bool(lines) and marked == len(lines),
                     "read": f"on {marked} of {len(lines)} subflow(s)"}
    return out


def _client_sockets(port: int, want: int) -> list[str]:
    """`ss --tos -tin` of the client's TCP sockets to `port` (each with its
    info line), once `want` of them are up or after a second."""
    deadline = time.monotonic() + 1.0
    while True:
        text = subprocess.run(["ss", "--tos", "-tin"], capture_output=True, text=True,
                              timeout=10).stdout.splitlines()
        found = [head + " " + info for head, info in zip(text, text[1:])
                 if head.startswith("ESTAB") and head.split()[4].endswith(f":{port}")]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _available_ulps() -> list[str]:
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return f.read().split()
    except OSError:
        return []


def _tcpext() -> dict[str, int]:
    with open("/proc/thread-self/net/netstat") as f:
        lines = f.read().splitlines()
    for head, values in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            return dict(zip(head.split()[1:], map(int, values.split()[1:])))
    return {}


def _loopback_up() -> None:
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


def _try(option: Option, role: str, proto: str) -> dict:
    if option.ulp and option.ulp not in _available_ulps():
        return {"set": "not tried", "errno": f"{option.ulp} not loaded (the probe loads no module)",
                "read": None}
    family = socket.AF_INET6 if option.family == 6 else socket.AF_INET
    host = "::1" if option.family == 6 else "127.0.0.1"
    number = IPPROTO_MPTCP if proto == "mptcp" else socket.IPPROTO_TCP
    made: list[socket.socket] = []
    try:
        lsock = socket.socket(family, socket.SOCK_STREAM, number)
        made.append(lsock)
        if role == "listener":
            return _set_and_read(option, lsock, then=lambda: (lsock.bind((host, 0)),
                                                                 lsock.listen(1)))
        lsock.bind((host, 0))
        lsock.listen(1)
        client = socket.socket(family, socket.SOCK_STREAM, number)
        client.settimeout(TIMEOUT_S)     # an option may keep connect() from completing
        lsock.settimeout(TIMEOUT_S)
        made.append(client)
        connect = lambda: client.connect(lsock.getsockname()[:2])   # noqa: E731
        if role == "client":
            return _set_and_read(option, client, then=connect if option.connects else None)
        connect()
        if role == "connected":
            return _set_and_read(option, client)
        conn, _ = lsock.accept()
        made.append(conn)
        return _set_and_read(option, conn)
    except OSError as exc:
        return {"set": "setup failed", "errno": errno.errorcode.get(exc.errno, str(exc.errno)),
                "read": None}
    finally:
        for s in made:
            s.close()


def _set_and_read(option: Option, sock: socket.socket, then=None) -> dict:
    out = {"set": "ok", "errno": None, "read": None}
    try:
        option.set_on(sock)
    except OSError as exc:
        return {"set": "refused", "errno": errno.errorcode.get(exc.errno, str(exc.errno)),
                "read": None}
    if option.readable:
        try:
            out["read"] = option.read_from(sock)
        except OSError as exc:
            out["read"] = f"getsockopt: {errno.errorcode.get(exc.errno, exc.errno)}"
    if then is not None:            # the set option must not break what follows
        try:
            then()
        except TimeoutError:
            out["after"] = f"connect() did not complete within {TIMEOUT_S:g} s"
        except OSError as exc:
            out["after"] = errno.errorcode.get(exc.errno, str(exc.errno))
    return out


def verdict(tcp: dict, mptcp: dict) -> str:
    """One option on one role, MPTCP against TCP."""
    if tcp["set"] != "ok" and mptcp["set"] != "ok":
        # TCP refuses it too: the kernel lacks the feature, whatever MPTCP says.
        return (f"unavailable on this kernel ({tcp['errno']})" if tcp["errno"] == mptcp["errno"]
                else f"unavailable on this kernel (TCP {tcp['errno']}, MPTCP {mptcp['errno']})")
    if tcp["set"] == "ok" and mptcp["set"] != "ok":
        return f"unsupported by MPTCP ({mptcp['errno']})"
    if mptcp["set"] == "ok" and tcp["set"] != "ok":
        return f"MPTCP only (TCP {tcp['errno']})"
    if mptcp.get("after") and not tcp.get("after"):
        return f"accepted by MPTCP, then {mptcp['after']}"
    if "effect_ok" in mptcp:
        return (f"supported: {mptcp['read']}" if mptcp["effect_ok"]
                else f"not in effect: {mptcp['read']} (TCP: {tcp['read']})")
    if mptcp["read"] != tcp["read"]:
        return f"supported, reads back {mptcp['read']!r} (TCP {tcp['read']!r})"
    return "supported"


def matrix(results: dict) -> dict[str, dict[str, str]]:
    """{option: {role: verdict}} from probe()'s results."""
    return {name: {role: verdict(r["tcp"], r["mptcp"]) for role, r in roles.items()}
            for name, roles in results.items()}
