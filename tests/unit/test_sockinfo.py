"""Parsers on buffers captured from a live 2-link MPTCP connection (6.18)."""
import json
import struct

import pytest

from harness.host import sockinfo


@pytest.fixture
def captured(data_dir):
    return json.loads((data_dir / "sockinfo-6.18.44.json").read_text())


def _full(doc):
    f = doc["full_info"]
    return {**f, "mptcp_info": bytes.fromhex(f["mptcp_info"]),
            "subflows": [(bytes.fromhex(a), bytes.fromhex(b)) for a, b in f["subflows"]]}


def test_mptcp_info_fields(captured):
    info = sockinfo.parse_mptcp_info(bytes.fromhex(captured["mptcp_info"]))
    assert info["subflows"] == 1 and info["subflows_total"] == 2
    assert info["fallback"] is False
    assert info["bytes_acked"] == captured["bytes_sent"]
    assert info["subflows_max"] == 8


def test_tcp_info_fields(captured):
    info = sockinfo.parse_tcp_info(bytes.fromhex(captured["tcp_info"]))
    assert info["snd_mss"] == 1448 and info["pmtu"] == 1500
    assert 0 < info["bytes_acked"] <= captured["bytes_sent"] + 1


def test_full_info_gives_both_subflows_with_addresses_and_bytes(captured):
    full = sockinfo.parse_full_info(_full(captured))
    assert full["num_subflows"] == 2
    assert full["size_tcpinfo_kernel"] == 280 and full["size_sfinfo_kernel"] == 264
    locals_ = [sf["local_address"] for sf in full["subflows"]]
    assert locals_ == ["198.18.0.1", "198.18.1.1"]
    assert all(sf["remote"].startswith(captured["server"] + ":") for sf in full["subflows"])
    # Every data byte went over one subflow or another; reinjections add the rest.
    carried = sum(sf["bytes_acked"] - 1 for sf in full["subflows"])  # -1: each SYN
    mi = full["mptcp_info"]
    assert carried == mi["bytes_acked"] + mi["bytes_retrans"]


def test_short_buffers_yield_only_complete_fields():
    assert sockinfo.parse_mptcp_info(b"\x02\x00") == {"subflows": 2, "add_addr_signal": 0}
    buf = struct.pack("=B", 1) + bytes(7) + struct.pack("=I", 200)
    assert sockinfo.parse_tcp_info(buf)["rto"] == 200
    assert "snd_mss" not in sockinfo.parse_tcp_info(buf)


def test_fallback_flag():
    buf = bytearray(96)
    struct.pack_into("=I", buf, 8, sockinfo.MPTCP_INFO_FLAG_FALLBACK)
    assert sockinfo.parse_mptcp_info(bytes(buf))["fallback"] is True


def test_sockaddr_v6_and_unknown_family():
    import socket
    sa6 = struct.pack("=H", socket.AF_INET6) + struct.pack("!H", 443) + bytes(4) + \
        socket.inet_pton(socket.AF_INET6, "2001:2:0:100::1") + bytes(4)
    assert sockinfo.parse_sockaddr(sa6) == ("2001:2:0:100::1", 443)
    assert sockinfo.parse_sockaddr(bytes(16)) is None


def _subflow_data(doc):
    return {name: {**d, "elements": [bytes.fromhex(e) for e in d["elements"]]}
            for name, d in doc["subflow_data"].items()}


def test_pre_full_info_pair_gives_the_same_subflows(captured):
    """MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS (kernels before 6.9) parse to
    the same subflows, addresses and byte counts as MPTCP_FULL_INFO."""
    older = _subflow_data(captured)
    assert older["tcpinfo"]["size_kernel"] == 280 and older["subflow_addrs"]["size_kernel"] == 256
    pair = sockinfo.parse_subflow_data(older["tcpinfo"], older["subflow_addrs"])
    full = sockinfo.parse_full_info(_full(captured))
    assert pair["source"] == "MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS"
    assert pair["num_subflows"] == full["num_subflows"] == 2
    for a, b in zip(pair["subflows"], full["subflows"]):
        assert (a["local"], a["remote"]) == (b["local"], b["remote"])
        assert a["bytes_acked"] == b["bytes_acked"]
        assert a["id"] is None


def test_pre_full_info_pair_uses_the_stride_the_kernel_wrote_back(captured):
    """An older kernel with a shorter tcp_info writes a smaller stride:
    only the fields inside it are read."""
    older = _subflow_data(captured)
    short = {**older["tcpinfo"], "size_user": 104,
             "elements": [e[:104] for e in older["tcpinfo"]["elements"]]}
    pair = sockinfo.parse_subflow_data(short, older["subflow_addrs"])
    sf = pair["subflows"][0]
    assert "rtt" in sf and "total_retrans" in sf and "bytes_acked" not in sf


def test_a_subflow_appearing_between_the_two_calls_is_left_out(captured):
    older = _subflow_data(captured)
    one = {**older["subflow_addrs"], "num_subflows": 1,
           "elements": older["subflow_addrs"]["elements"][:1]}
    pair = sockinfo.parse_subflow_data(older["tcpinfo"], one)
    assert pair["num_subflows"] == 1 and len(pair["subflows"]) == 1
