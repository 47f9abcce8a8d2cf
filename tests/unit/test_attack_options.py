"""The attacker's RFC 8684 option bytes and cryptography, and its frame parser."""
import hashlib
import hmac
import struct

import pytest

from harness.attack import mptcpopt, wire

SERVER_KEY = bytes.fromhex("0123456789abcdef")
CLIENT_KEY = bytes.fromhex("fedcba9876543210")


def test_token_is_the_top_32_bits_of_sha256_of_the_key():
    assert mptcpopt.token(SERVER_KEY) == hashlib.sha256(SERVER_KEY).digest()[:4]


@pytest.mark.parametrize("option, total", [
    # Option lengths on the wire (kind and length included) as Linux checks them.
    (mptcpopt.mp_capable_syn(), 4),
    (mptcpopt.join_syn(b"\0" * 4, b"\1" * 4, 3), 12),
    (mptcpopt.join_ack(b"\2" * 32), 24),
    (mptcpopt.add_addr("198.19.250.2", 42, b"\3" * 8), 16),
    (mptcpopt.add_addr("198.19.250.2", 42, b"\3" * 8, port=80), 18),
    (mptcpopt.add_addr("2001:2:0:2fa::2", 42, b"\3" * 8), 28),
    (mptcpopt.remove_addr(0), 4),
    (mptcpopt.remove_addr(1, 2), 5),
    (mptcpopt.fastclose(CLIENT_KEY), 12),
])
def test_option_lengths_are_rfc_8684s(option, total):
    assert len(option) + 2 == total


def test_subtypes():
    assert mptcpopt.subtype(mptcpopt.join_syn(b"\0" * 4, b"\0" * 4)) == mptcpopt.MP_JOIN
    assert mptcpopt.subtype(mptcpopt.add_addr("198.19.250.2", 1, b"\0" * 8)) == mptcpopt.ADD_ADDR
    assert mptcpopt.subtype(mptcpopt.remove_addr(0)) == mptcpopt.REMOVE_ADDR
    assert mptcpopt.subtype(mptcpopt.fastclose(CLIENT_KEY)) == mptcpopt.MP_FASTCLOSE


def test_capable_keys_of_synack_and_third_ack():
    synack = bytes([0x01, 0x01]) + SERVER_KEY
    ack = bytes([0x01, 0x01]) + CLIENT_KEY + SERVER_KEY
    assert mptcpopt.capable_keys(synack) == (SERVER_KEY,)
    assert mptcpopt.capable_keys(ack) == (CLIENT_KEY, SERVER_KEY)
    assert mptcpopt.capable_keys(mptcpopt.mp_capable_syn()) == ()
    assert mptcpopt.capable_keys(mptcpopt.remove_addr(0)) == ()


def test_join_hmacs_are_keyed_by_both_keys_in_the_senders_order():
    r_a, r_b = b"\xaa" * 4, b"\xbb" * 4
    full = hmac.new(CLIENT_KEY + SERVER_KEY, r_a + r_b, hashlib.sha256).digest()
    assert mptcpopt.join_ack_hmac(CLIENT_KEY, SERVER_KEY, r_a, r_b) == full[:20]
    synack = hmac.new(SERVER_KEY + CLIENT_KEY, r_b + r_a, hashlib.sha256).digest()[:8]
    assert mptcpopt.join_synack_hmac(SERVER_KEY, CLIENT_KEY, r_b, r_a) == synack
    fields = mptcpopt.join_synack_fields(bytes([0x10, 0]) + synack + r_b)
    assert fields == (synack, r_b)


def test_add_addr_hmac_is_the_rightmost_64_bits_over_id_address_and_port():
    message = bytes([42]) + bytes([198, 19, 250, 2]) + struct.pack("!H", 0)
    expect = hmac.new(SERVER_KEY + CLIENT_KEY, message, hashlib.sha256).digest()[-8:]
    assert mptcpopt.add_addr_hmac(SERVER_KEY, CLIENT_KEY, "198.19.250.2", 42) == expect
    option = mptcpopt.add_addr("198.19.250.2", 42, expect)
    assert option[1] == 42 and option[2:6] == bytes([198, 19, 250, 2]) and option[6:] == expect


def test_parse_frame_reads_what_scapy_built():
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    option = mptcpopt.remove_addr(0)
    frame = bytes(Ether() / IP(src="198.19.0.1", dst="198.18.0.1") /
                  TCP(sport=5201, dport=40000, seq=7, ack=9, flags="A", window=512,
                      options=[(mptcpopt.KIND, option)]) / (b"x" * 10))
    seg = wire.parse_frame(frame, 1.5)
    assert seg.tuple == ("198.19.0.1", 5201, "198.18.0.1", 40000)
    assert (seg.seq, seg.ack, seg.window, seg.payload_len, seg.at) == (7, 9, 512, 10, 1.5)
    assert seg.has(wire.ACK) and not seg.has(wire.SYN)
    assert mptcpopt.options_of(seg.options) == [option]


def test_parse_frame_skips_what_is_not_ipv4_tcp():
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    assert wire.parse_frame(bytes(Ether() / IP() / UDP())) is None
    assert wire.parse_frame(b"\0" * 20) is None


def test_parse_options_stops_at_a_malformed_length():
    assert wire.parse_options(bytes([1, 1, 30, 4, 0x40, 0, 8, 0])) == [(30, bytes([0x40, 0]))]
