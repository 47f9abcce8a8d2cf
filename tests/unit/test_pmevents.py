import errno
import struct

import pytest

from harness.errors import CapabilityError
from harness.net import pmevents
from harness.net.pmevents import join_delays, timeline

T0 = 100.0
A, B = 0xAAAA, 0xBBBB
C0, C1, C2, S = "198.18.0.1", "198.18.1.1", "198.18.2.1", "198.19.0.1"


def ev(t: float, event: str, token: int, **kw) -> dict:
    return {"t": T0 + t, "event": event, "token": token, "family": 4, **kw}


def sub(t: float, event: str, token: int, saddr: str, sport: int, loc_id: int, **kw) -> dict:
    return ev(t, event, token, saddr=saddr, sport=sport, daddr=S, dport=443,
              loc_id=loc_id, rem_id=0, backup=0, **kw)


def conn(t: float, event: str, token: int, sport: int = 40000) -> dict:
    return ev(t, event, token, saddr=C0, sport=sport, daddr=S, dport=443, loc_id=0, rem_id=0)


# After a capture on Linux 6.18 (client side; the second join and its close added).
TWO_JOINS = [
    conn(0.00096, "created", A),
    conn(0.00162, "established", A),
    sub(0.00197, "sub_established", A, C1, 35885, 1, if_idx=3),
    sub(0.00251, "sub_established", A, C2, 35990, 2, if_idx=4),
    sub(0.50000, "sub_closed", A, C2, 35990, 2, if_idx=4, error=104),
    ev(1.00314, "closed", A),
]


def test_a_connection_with_two_further_subflows():
    tl = timeline(TWO_JOINS, T0)
    assert tl["connections_seen"] == 1
    (c,) = tl["connections"]
    assert (c["token"], c["created_s"], c["established_s"], c["closed_s"]) == (A, 0.001, 0.0016, 1.0031)
    assert (c["local"], c["remote"]) == (f"{C0}:40000", f"{S}:443")
    first, second = c["subflows"]
    assert first == {"local": f"{C1}:35885", "remote": f"{S}:443", "loc_id": 1, "rem_id": 0,
                     "backup": 0, "established_s": 0.002, "closed_s": None, "error": None}
    assert (second["established_s"], second["closed_s"], second["error"]) == (0.0025, 0.5, 104)
    assert join_delays(tl) == [0.4, 0.9]


def test_a_join_refused_at_its_syn_is_a_subflow_that_never_established():
    events = [conn(0.0009, "created", A), conn(0.00105, "established", A),
              sub(0.0018, "sub_closed", A, C1, 44193, 1, error=111), ev(0.3, "closed", A)]
    tl = timeline(events, T0)
    (s,) = tl["connections"][0]["subflows"]
    assert (s["established_s"], s["closed_s"], s["error"]) == (None, 0.0018, 111)
    assert join_delays(tl) == []


def test_connections_beyond_the_limit_are_counted_not_kept():
    events = [e for i, token in enumerate((1, 2, 3))
              for e in (conn(i, "created", token), conn(i + 0.1, "established", token),
                        sub(i + 0.2, "sub_established", token, C1, 50000 + i, 1))]
    events.append(ev(2.5, "announced", 3, rem_id=1, daddr="198.19.1.1", dport=0))
    tl = timeline(events, T0, max_connections=2)
    assert tl["connections_seen"] == 3
    assert [c["token"] for c in tl["connections"]] == [1, 2]
    assert join_delays(tl) == [100.0, 100.0]
    assert tl["announced"] == []


def test_interleaved_and_unsorted_events_go_to_their_own_connection():
    events = [
        ev(0.9, "closed", B),
        conn(0.0, "created", A, 40000), conn(0.01, "created", B, 40001),
        conn(0.02, "established", B, 40001), conn(0.03, "established", A, 40000),
        sub(0.05, "sub_established", A, C1, 50000, 1),
        sub(0.04, "sub_established", B, C1, 50001, 1),
        ev(0.06, "announced", B, rem_id=1, daddr="198.19.1.1", dport=0),
        ev(0.07, "removed", B, rem_id=1),
        sub(0.08, "sub_closed", A, C1, 50000, 1, error=0),
        ev(1.0, "closed", A),
    ]
    tl = timeline(events, T0)
    a, b = tl["connections"]
    assert (a["token"], b["token"]) == (A, B)      # by creation, not by the list's order
    assert a["subflows"][0]["local"] == f"{C1}:50000" and a["subflows"][0]["closed_s"] == 0.08
    assert b["subflows"][0]["local"] == f"{C1}:50001" and b["closed_s"] == 0.9
    assert join_delays(tl) == [20.0, 20.0]
    assert tl["announced"] == [{"t_s": 0.06, "token": B, "rem_id": 1, "address": "198.19.1.1", "port": 0}]
    assert tl["removed"] == [{"t_s": 0.07, "token": B, "rem_id": 1}]


def test_a_token_created_again_after_closing_is_a_new_connection():
    events = [conn(0, "created", A), ev(1, "closed", A), conn(2, "created", A), conn(2.5, "established", A)]
    tl = timeline(events, T0)
    assert tl["connections_seen"] == 2
    assert [c["established_s"] for c in tl["connections"]] == [None, 2.5]


def _message(cmd: int, attrs: list) -> bytes:
    msg = pmevents.pm_event_msg()
    msg["cmd"], msg["version"], msg["attrs"] = cmd, 1, attrs
    msg["header"]["type"] = 0x1C
    msg.encode()
    return msg.data


def test_an_event_message_decodes_with_big_endian_ports_and_server_side_from_flags():
    data = _message(10, [("MPTCP_ATTR_TOKEN", A), ("MPTCP_ATTR_FAMILY", 10),
                         ("MPTCP_ATTR_SADDR6", "2001:2:0:101::1"), ("MPTCP_ATTR_DADDR6", "2001:3::1"),
                         ("MPTCP_ATTR_SPORT", 443), ("MPTCP_ATTR_DPORT", 50000),
                         ("MPTCP_ATTR_IF_IDX", -1), ("MPTCP_ATTR_FLAGS", 2)])
    assert struct.pack(">H", 443) + b"\0\0" in data
    (e,) = pmevents.parse(data + _message(99, []), 0x1C, 5.0)   # unknown event: skipped
    assert e == {"t": 5.0, "event": "sub_established", "token": A, "family": 6,
                 "saddr": "2001:2:0:101::1", "daddr": "2001:3::1", "sport": 443, "dport": 50000,
                 "if_idx": -1, "flags": 2, "server_side": True}
    assert pmevents.parse(data, 0x1D, 5.0) == []    # another family's message


class _CtrlAnswers:
    def __init__(self, code: int):
        self.reply = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -code) + bytes(16)

    def settimeout(self, _):
        pass

    def send(self, data):
        return len(data)

    def recv(self, _):
        return self.reply


def test_a_kernel_without_the_family_is_a_capability_error():
    with pytest.raises(CapabilityError, match="no MPTCP path manager netlink family"):
        pmevents._resolve(_CtrlAnswers(errno.ENOENT))
    with pytest.raises(OSError, match="Operation not permitted"):
        pmevents._resolve(_CtrlAnswers(errno.EPERM))
