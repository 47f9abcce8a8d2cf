"""MPTCP path-manager netlink events (`ip mptcp monitor`) of one namespace,
stamped with time.monotonic() at receipt, and per-connection timelines."""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time

from pyroute2.netlink import (
    CTRL_CMD_GETFAMILY,
    GENL_ID_CTRL,
    NETLINK_ADD_MEMBERSHIP,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    SOL_NETLINK,
    ctrlmsg,
    genlmsg,
)

from harness.errors import CapabilityError
from harness.host import netns
from harness.net.pmjoins import connection_join_delays

FAMILY_NAME, GROUP_NAME = "mptcp_pm", "mptcp_pm_events"
RCVBUF = 4 << 20
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
FLAG_SERVER_SIDE = 1 << 1          # MPTCP_PM_EV_FLAG_SERVER_SIDE in MPTCP_ATTR_FLAGS
STOP_TIMEOUT_S = 5.0

# enum mptcp_event_type (include/uapi/linux/mptcp_pm.h)
EVENTS = {1: "created", 2: "established", 3: "closed", 6: "announced", 7: "removed",
          10: "sub_established", 11: "sub_closed", 13: "sub_priority",
          15: "listener_created", 16: "listener_closed"}


class pm_event_msg(genlmsg):
    """A message of the mptcp_pm_events group (enum mptcp_event_attr)."""
    prefix = "MPTCP_ATTR_"
    nla_map = (
        ("MPTCP_ATTR_UNSPEC", "none"),
        ("MPTCP_ATTR_TOKEN", "uint32"),
        ("MPTCP_ATTR_FAMILY", "uint16"),
        ("MPTCP_ATTR_LOC_ID", "uint8"),
        ("MPTCP_ATTR_REM_ID", "uint8"),
        ("MPTCP_ATTR_SADDR4", "ip4addr"),
        ("MPTCP_ATTR_SADDR6", "ip6addr"),
        ("MPTCP_ATTR_DADDR4", "ip4addr"),
        ("MPTCP_ATTR_DADDR6", "ip6addr"),
        ("MPTCP_ATTR_SPORT", "be16"),
        ("MPTCP_ATTR_DPORT", "be16"),
        ("MPTCP_ATTR_BACKUP", "uint8"),
        ("MPTCP_ATTR_ERROR", "uint8"),
        ("MPTCP_ATTR_FLAGS", "uint16"),
        ("MPTCP_ATTR_TIMEOUT", "uint32"),
        ("MPTCP_ATTR_IF_IDX", "int32"),
        ("MPTCP_ATTR_RESET_REASON", "uint32"),
        ("MPTCP_ATTR_RESET_FLAGS", "uint32"),
        ("MPTCP_ATTR_SERVER_SIDE", "uint8"),
    )


_KEYS = {"TOKEN": "token", "LOC_ID": "loc_id", "REM_ID": "rem_id", "SADDR4": "saddr",
         "SADDR6": "saddr", "DADDR4": "daddr", "DADDR6": "daddr", "SPORT": "sport",
         "DPORT": "dport", "BACKUP": "backup", "ERROR": "error", "FLAGS": "flags",
         "TIMEOUT": "timeout", "IF_IDX": "if_idx", "RESET_REASON": "reset_reason",
         "RESET_FLAGS": "reset_flags"}


def to_dict(msg: pm_event_msg, t: float) -> dict | None:
    """One decoded event as a dict with the keys it carried; None if unknown."""
    name = EVENTS.get(msg["cmd"])
    if name is None:
        return None
    ev: dict = {"t": t, "event": name}
    for attr, key in _KEYS.items():
        value = msg.get_attr("MPTCP_ATTR_" + attr)
        if value is not None:
            ev[key] = value
    family = msg.get_attr("MPTCP_ATTR_FAMILY")
    if family is not None:
        ev["family"] = {socket.AF_INET: 4, socket.AF_INET6: 6}.get(family, family)
    side = msg.get_attr("MPTCP_ATTR_SERVER_SIDE")
    if side is not None or "flags" in ev:
        ev["server_side"] = bool(side) or bool(ev.get("flags", 0) & FLAG_SERVER_SIDE)
    return ev


def parse(data: bytes, family_id: int, t: float) -> list[dict]:
    """The events in one netlink datagram."""
    out, offset = [], 0
    while offset + 16 <= len(data):
        length, mtype = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if mtype == family_id:
            msg = pm_event_msg(data[offset:offset + length])
            msg.decode()
            if (ev := to_dict(msg, t)) is not None:
                out.append(ev)
        offset += (length + 3) & ~3
    return out


def _resolve(sock: socket.socket) -> tuple[int, int]:
    """(family id, events group id) of mptcp_pm, asked of the kernel's ctrl."""
    msg = ctrlmsg()
    msg["cmd"], msg["version"] = CTRL_CMD_GETFAMILY, 1
    msg["attrs"].append(["CTRL_ATTR_FAMILY_NAME", FAMILY_NAME])
    msg["header"]["type"], msg["header"]["flags"] = GENL_ID_CTRL, NLM_F_REQUEST
    msg["header"]["sequence_number"] = 1
    msg.encode()
    sock.settimeout(5)
    sock.send(msg.data)
    data = sock.recv(65536)
    length, mtype = struct.unpack_from("=IH", data)
    if mtype == NLMSG_ERROR:
        code = -struct.unpack_from("=i", data, 16)[0]
        if code == errno.ENOENT:
            raise CapabilityError("this kernel has no MPTCP path manager netlink family "
                                  f"({FAMILY_NAME}); boot a kernel built with CONFIG_MPTCP=y")
        raise OSError(code, f"resolving {FAMILY_NAME}: {os.strerror(code)}")
    reply = ctrlmsg(data[:length])
    reply.decode()
    groups = {g.get_attr("CTRL_ATTR_MCAST_GRP_NAME"): g.get_attr("CTRL_ATTR_MCAST_GRP_ID")
              for g in reply.get_attr("CTRL_ATTR_MCAST_GROUPS", [])}
    if GROUP_NAME not in groups:
        raise CapabilityError(f"this kernel's {FAMILY_NAME} netlink family has no "
                              f"{GROUP_NAME} group; boot a kernel with MPTCP events (5.12 or newer)")
    return reply.get_attr("CTRL_ATTR_FAMILY_ID"), groups[GROUP_NAME]


class Monitor:
    """Records the path-manager events of namespace `ns` while entered."""

    def __init__(self, ns: str):
        self.ns = ns
        self._events: list[dict] = []
        self._lost = 0
        self._sock: socket.socket | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Monitor":
        try:
            self._open()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def events(self) -> list[dict]:
        return list(self._events)

    def lost(self) -> int:
        """Receive-buffer overruns (ENOBUFS): each lost one or more events."""
        return self._lost

    def _open(self) -> None:
        if not netns.exists(self.ns):
            raise FileNotFoundError(f"network namespace {self.ns} does not exist")
        self._sock = netns.netlink_socket(self.ns, netns.NETLINK_GENERIC)
        self._sock.bind((0, 0))
        self._family, group = _resolve(self._sock)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except PermissionError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self._sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self._sock.setblocking(False)
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"pmevents:{self.ns}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wake, poller = self._wake[0], select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        poller.register(wake, select.POLLIN)
        while True:                     # blocks in poll(): no timeout, no spinning
            ready = {fd for fd, _ in poller.poll()}
            self._drain()
            if wake in ready:
                return

    def _drain(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self._lost += 1
                continue
            self._events.extend(parse(data, self._family, time.monotonic()))

    def _close(self) -> None:
        if self._thread is not None:
            os.write(self._wake[1], b"x")
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _round(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 4)


def _endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def timeline(events: list[dict], t0: float, max_connections: int = 16) -> dict:
    """Per-connection timelines of one namespace's events, in seconds from t0
    (the first max_connections connections; connections_seen counts all)."""
    conns: list[dict] = []
    current: dict[int, int] = {}        # token -> index of its latest connection
    addrs: dict[str, list] = {"announced": [], "removed": []}   # (index, entry)
    for ev in sorted(events, key=lambda e: e["t"]):
        token, kind, t = ev.get("token"), ev["event"], _round(ev["t"], t0)
        if token is None:               # listener events
            continue
        if token not in current or (kind == "created" and conns[current[token]]["closed_s"] is not None):
            current[token] = len(conns)
            conns.append({"token": token, "created_s": None, "established_s": None, "closed_s": None,
                          "local": None, "remote": None, "subflows": []})
        conn = conns[current[token]]
        if kind in ("created", "established"):
            conn[f"{kind}_s"] = t
            if "saddr" in ev:
                conn["local"] = _endpoint(ev["saddr"], ev["sport"])
                conn["remote"] = _endpoint(ev["daddr"], ev["dport"])
            if "server_side" in ev:
                conn["server_side"] = ev["server_side"]
        elif kind == "closed":
            conn["closed_s"] = t
        elif kind in addrs:
            entry = {"t_s": t, "token": token, "rem_id": ev.get("rem_id")}
            if "daddr" in ev:
                entry["address"], entry["port"] = ev["daddr"], ev.get("dport", 0)
            addrs[kind].append((current[token], entry))
        elif kind in ("sub_established", "sub_closed"):
            _subflow_event(conn, ev, kind, t)
    kept = {k: [e for i, e in v if i < max_connections] for k, v in addrs.items()}
    return {"connections": conns[:max_connections], "connections_seen": len(conns), **kept}


def _subflow_event(conn: dict, ev: dict, kind: str, t: float) -> None:
    # The kernel sends no sub_closed for subflows closed with their connection.
    local, remote = _endpoint(ev["saddr"], ev["sport"]), _endpoint(ev["daddr"], ev["dport"])
    open_one = next((s for s in conn["subflows"] if s["closed_s"] is None
                     and (s["local"], s["remote"]) == (local, remote)), None)
    if kind == "sub_closed" and open_one is not None:
        open_one["closed_s"], open_one["error"] = t, ev.get("error", 0)
        return
    conn["subflows"].append({
        "local": local, "remote": remote, "loc_id": ev.get("loc_id"),
        "rem_id": ev.get("rem_id"), "backup": ev.get("backup", 0),
        "established_s": t if kind == "sub_established" else None,
        "closed_s": t if kind == "sub_closed" else None,
        "error": ev.get("error", 0) if kind == "sub_closed" else None})


def join_delays(tl: dict) -> list[float]:
    """Per connection, ms from its establishment to each further subflow's."""
    return [round(d, 1) for c in tl["connections"] for d in connection_join_delays(c)]
