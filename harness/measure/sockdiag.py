"""Sockets of a namespace seen from outside their process, through
sock_diag (what `ss -M` and `ss -t` read): for drivers whose sockets we
cannot call getsockopt() on, such as iperf3.

MPTCP sockets are asked for with IPPROTO_MPTCP in an INET_DIAG_REQ_PROTOCOL
attribute (the request's protocol byte cannot hold 262); their
INET_DIAG_INFO is the same struct mptcp_info MPTCP_INFO returns, and a TCP
socket's is struct tcp_info, so sockinfo's parsers read both.
"""
from __future__ import annotations

import socket

from pyroute2.netlink import NLM_F_MATCH, NLM_F_REQUEST, NLM_F_ROOT
from pyroute2.netlink.diag import (
    SOCK_DIAG_BY_FAMILY,
    SS_CONN,
    SS_LISTEN,
    DiagSocket,
    MarshalDiag,
    inet_diag_msg,
    inet_diag_req,
)

from harness.host import netns, sockinfo

INET_DIAG_INFO_EXT = 1 << (2 - 1)      # request INET_DIAG_INFO (attribute 2)
PROTOCOLS = {"mptcp": sockinfo.IPPROTO_MPTCP, "tcp": socket.IPPROTO_TCP}


class _request(inet_diag_req):
    nla_map = (("INET_DIAG_REQ_NONE", "none"), ("INET_DIAG_REQ_BYTECODE", "hex"),
               ("INET_DIAG_REQ_SK_BPF_STORAGES", "hex"), ("INET_DIAG_REQ_PROTOCOL", "uint32"))


class _message(inet_diag_msg):
    # The info attribute's layout depends on the protocol: keep its bytes.
    nla_map = tuple((name, "cdata") if name == "INET_DIAG_INFO" else (name, kind)
                    for name, kind in inet_diag_msg.nla_map)


class _Marshal(MarshalDiag):
    msg_map = {socket.AF_INET: _message, socket.AF_INET6: _message}


def _both(family: int, states: int = SS_CONN) -> list[dict]:
    """MPTCP then TCP sockets in `states`, over one sock_diag socket (made
    inside the namespace the calling thread is in)."""
    with DiagSocket() as ds:
        ds.set_marshal(_Marshal())
        ds.bind()
        return [*_query(ds, "mptcp", family, states), *_query(ds, "tcp", family, states)]


def _query(ds: DiagSocket, protocol: str, family: int, states: int) -> list[dict]:
    proto = PROTOCOLS[protocol]
    req = _request()
    req["sdiag_family"] = socket.AF_INET if family == 4 else socket.AF_INET6
    req["sdiag_protocol"] = proto & 0xFF
    req["idiag_states"] = states
    req["idiag_ext"] = INET_DIAG_INFO_EXT
    req["attrs"] = [["INET_DIAG_REQ_PROTOCOL", proto]]
    parse = sockinfo.parse_mptcp_info if protocol == "mptcp" else sockinfo.parse_tcp_info
    out = []
    for msg in ds.nlm_request(req, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH):
        info = msg.get_attr("INET_DIAG_INFO")
        out.append({"protocol": protocol, "local": msg["idiag_src"],
                    "local_port": msg["idiag_sport"], "remote": msg["idiag_dst"],
                    "remote_port": msg["idiag_dport"], "state": msg["idiag_state"],
                    "info": parse(info) if info else {}})
    return out


def connections(ns: str | None, family: int) -> list[dict]:
    """Every connected MPTCP socket and TCP socket in namespace `ns` (an
    MPTCP connection's subflows are among the TCP ones); None: this one."""
    return netns.call_in(ns, _both, family) if ns else _both(family)


def listeners(family: int) -> list[dict]:
    """The TCP and MPTCP listening sockets of the current namespace."""
    return _both(family, 1 << SS_LISTEN)


def listening(ns: str | None, family: int, port: int) -> bool:
    """Whether a TCP or MPTCP socket listens on `port` in namespace `ns`."""
    found = netns.call_in(ns, _both, family, 1 << SS_LISTEN) if ns else _both(family, 1 << SS_LISTEN)
    return any(c["local_port"] == port for c in found)


def _traffic(conn: dict) -> int:
    info = conn["info"]
    return max(info.get("bytes_sent", 0), info.get("bytes_received", 0),
               info.get("bytes_acked", 0))


def socket_view(conns: list[dict], port: int, side: str) -> dict | None:
    """The view of the busiest connection to (client side) or from (server
    side) `port`, in the shape engine.introspect() gives for a socket of
    our own: so_protocol, and mptcp_info for an MPTCP one.  MPTCP sockets
    win over TCP ones: a TCP socket beside an MPTCP one is its subflow."""
    key = "remote_port" if side == "client" else "local_port"
    mine = [c for c in conns if c[key] == port]
    for protocol in ("mptcp", "tcp"):
        found = [c for c in mine if c["protocol"] == protocol]
        if found:
            best = max(found, key=_traffic)
            view = {"so_protocol": PROTOCOLS[protocol], "source": "sock_diag",
                    "peer": f"{best['remote']}:{best['remote_port']}"}
            view["mptcp_info" if protocol == "mptcp" else "tcp_info"] = best["info"]
            return view
    return None
