"""SNMP/MIB counters of a namespace (/proc/net/netstat and /proc/net/snmp),
named as nstat names them (TcpExtTCPLostRetransmit, MPTcpExtMPJoinAckRx...)."""
from __future__ import annotations

from harness.host import netns

FILES = ("/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp")
KEEP_PREFIXES = ("Tcp", "TcpExt", "MPTcpExt", "Ip", "IpExt")


def parse(text: str) -> dict[str, int]:
    """Header/value line pairs ("TcpExt: A B" / "TcpExt: 1 2") to counters."""
    out: dict[str, int] = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2]):
        prefix, _, names = header.partition(":")
        vprefix, _, nums = values.partition(":")
        if prefix != vprefix or prefix not in KEEP_PREFIXES:
            continue
        for name, num in zip(names.split(), nums.split()):
            try:
                out[prefix + name] = int(num)
            except ValueError:
                continue
    return out


def _read_here() -> dict[str, int]:
    out: dict[str, int] = {}
    for path in FILES:
        try:
            with open(path) as f:
                out.update(parse(f.read()))
        except FileNotFoundError:
            continue
    return out


def snapshot(ns: str) -> dict[str, int]:
    return netns.call_in(ns, _read_here)


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Counters that changed (gauges such as TcpCurrEstab may go negative)."""
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
