"""RFC 8684 option bytes and the keys' cryptography, as Linux computes them
(net/mptcp/options.c, subflow.c, crypto.c): what an attacker needs to
forge MP_JOIN, ADD_ADDR, REMOVE_ADDR and MP_FASTCLOSE, and to read the
keys of an MP_CAPABLE handshake it saw.  Pure functions on bytes.

Keys and nonces are the bytes as on the wire (big-endian)."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct

KIND = 30
MP_CAPABLE, MP_JOIN, DSS, ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_FAIL, MP_FASTCLOSE, MP_TCPRST = range(9)
VERSION = 1
FLAG_SHA256 = 0x01          # H: HMAC-SHA256, the only algorithm v1 defines
FLAG_CHECKSUM = 0x80        # A: DSS checksums required


def subtype(option: bytes) -> int:
    """The subtype of an MPTCP option's value (the bytes after kind and length)."""
    return option[0] >> 4


def token(key: bytes) -> bytes:
    """The 32-bit token a key names its connection by: the most significant
    bits of SHA-256(key)."""
    return hashlib.sha256(key).digest()[:4]


def mac(key1: bytes, key2: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 keyed with key1 || key2 (mptcp_crypto_hmac_sha)."""
    return hmac.new(key1 + key2, message, hashlib.sha256).digest()


# ----------------------------------------------------------- MP_CAPABLE
def mp_capable_syn(checksum: bool = False) -> bytes:
    return bytes([MP_CAPABLE << 4 | VERSION, FLAG_SHA256 | (FLAG_CHECKSUM if checksum else 0)])


def capable_keys(option: bytes) -> tuple[bytes, ...]:
    """The keys an MP_CAPABLE option carries: the SYN/ACK's (its sender's,
    the server's), the third ACK's (the client's, then the server's);
    none in a SYN or an option of another subtype."""
    if subtype(option) != MP_CAPABLE or len(option) < 10:
        return ()
    return (option[2:10],) if len(option) < 18 else (option[2:10], option[10:18])


# -------------------------------------------------------------- MP_JOIN
def join_syn(token_: bytes, nonce: bytes, address_id: int = 0, backup: bool = False) -> bytes:
    return bytes([MP_JOIN << 4 | int(backup), address_id]) + token_ + nonce


def join_synack_fields(option: bytes) -> tuple[bytes, bytes] | None:
    """(truncated HMAC, nonce) of an MP_JOIN SYN/ACK, or None."""
    if subtype(option) != MP_JOIN or len(option) != 14:
        return None
    return option[2:10], option[10:14]


def join_ack(hmac_: bytes) -> bytes:
    """The third ACK of MP_JOIN: the initiator's HMAC, 160 bits."""
    return bytes([MP_JOIN << 4, 0]) + hmac_[:20]


def join_ack_hmac(initiator_key: bytes, listener_key: bytes,
                  initiator_nonce: bytes, listener_nonce: bytes) -> bytes:
    """What the listener checks in the third ACK (subflow_hmac_valid)."""
    return mac(initiator_key, listener_key, initiator_nonce + listener_nonce)[:20]


def join_synack_hmac(listener_key: bytes, initiator_key: bytes,
                     listener_nonce: bytes, initiator_nonce: bytes) -> bytes:
    """The truncated HMAC a listener puts in its SYN/ACK."""
    return mac(listener_key, initiator_key, listener_nonce + initiator_nonce)[:8]


# ------------------------------------------------------------- ADD_ADDR
def add_addr(address: str, address_id: int, hmac_: bytes, port: int = 0) -> bytes:
    """ADD_ADDR (not an echo) with its 64-bit HMAC."""
    raw = ipaddress.ip_address(address).packed
    return (bytes([ADD_ADDR << 4, address_id]) + raw
            + (struct.pack("!H", port) if port else b"") + hmac_[:8])


def add_addr_hmac(sender_key: bytes, receiver_key: bytes, address: str, address_id: int,
                  port: int = 0) -> bytes:
    """The rightmost 64 bits of HMAC(sender key || receiver key,
    id || address || port), the port 0 when absent (add_addr_generate_hmac)."""
    message = bytes([address_id]) + ipaddress.ip_address(address).packed + struct.pack("!H", port)
    return mac(sender_key, receiver_key, message)[-8:]


# ---------------------------------------------------------- REMOVE_ADDR
def remove_addr(*address_ids: int) -> bytes:
    """REMOVE_ADDR: RFC 8684 gives it no HMAC."""
    return bytes([REMOVE_ADDR << 4, *address_ids])


# --------------------------------------------------------- MP_FASTCLOSE
def fastclose(receiver_key: bytes) -> bytes:
    """MP_FASTCLOSE: its receiver closes at once if the key is its own."""
    return bytes([MP_FASTCLOSE << 4, 0]) + receiver_key


def options_of(tcp_options: list) -> list[bytes]:
    """The MPTCP option values among scapy's parsed TCP options."""
    return [bytes(v) for k, v in tcp_options if k == KIND and isinstance(v, (bytes, bytearray))]
