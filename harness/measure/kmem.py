"""Kernel memory that connections hold.

Exact: a namespace's /proc/net/protocols counts the sockets of each
protocol in use there (an MPTCP connection is one MPTCP socket plus one TCP
socket per subflow, at each end), and each socket is one object of its
protocol's slab cache, whose object size /proc/slabinfo gives (the
structure's size, /proc/net/protocols' `size`, without a cache).  Sockets
x object size, before and after, is the memory of the sockets themselves.

Not in that figure, and said beside it: a user-visible socket's inode and
file (about 1 KiB, the same for both protocols), kmalloc'd parts (an MPTCP
subflow's context, tokens) and buffers of queued data (none on an idle
connection).  The whole slab's growth (/proc/meminfo `Slab`) and the
caches that grew most are recorded for those, but they are machine-wide
and SLUB counts free objects held per CPU as in use, so a trial that
follows one that freed thousands of sockets sees less growth than it
made: they are detail, never the figure (docs/engine.md, "The cost of a
connection").
"""
from __future__ import annotations

import time

PROTOCOLS = "/proc/thread-self/net/protocols"


def parse_meminfo(text: str) -> dict[str, int]:
    """Bytes of each /proc/meminfo line given in kB."""
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[name] = int(parts[0]) * 1024
    return out


def _table(text: str, skip: int, columns: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """{first field: (two integer fields)} from a whitespace table after
    its `skip` heading lines; rows whose fields are not integers are left out."""
    out = {}
    a, b = columns
    for line in text.splitlines()[skip:]:
        f = line.split()
        if len(f) > max(a, b):
            try:
                out[f[0]] = (int(f[a]), int(f[b]))
            except ValueError:
                continue
    return out


def parse_slabinfo(text: str) -> dict[str, tuple[int, int]]:
    """{cache: (active objects, object size)} from /proc/slabinfo 2.x."""
    return _table(text, 2, (1, 3))


def parse_protocols(text: str) -> dict[str, tuple[int, int]]:
    """{protocol: (sockets in use in this namespace, structure size)}."""
    return _table(text, 1, (2, 1))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:      # slabinfo is root's only
        return ""


def snapshot() -> dict:
    """This namespace's sockets per protocol, and the machine's slab."""
    return {"protocols": parse_protocols(_read(PROTOCOLS)),
            "slab_bytes": parse_meminfo(_read("/proc/meminfo")).get("Slab"),
            "caches": parse_slabinfo(_read("/proc/slabinfo"))}


def _counts() -> dict[str, int]:
    return {k: v[0] for k, v in parse_protocols(_read(PROTOCOLS)).items()}


def settled(quiet_s: float = 0.3, timeout_s: float = 10.0) -> dict:
    """A snapshot once this namespace's socket counts have held still for
    quiet_s: the previous trial's MPTCP sockets are freed after their close
    returns (the kernel's workers), and a count taken while they go would
    subtract them from this trial's.  After timeout_s, as they are.  Only
    the counts are polled; the slab is read once, at the end."""
    end = time.monotonic() + timeout_s
    last, since = _counts(), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        now = _counts()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return snapshot()


def delta(before: dict, after: dict, top: int = 8) -> dict:
    """Sockets each protocol gained, their bytes (object size from the
    slab cache of the protocol's name, else the structure's size), and as
    detail the slab's growth and the caches that grew most ([name, bytes])."""
    sockets, socket_bytes = {}, 0
    for name, (n, size) in after["protocols"].items():
        grown = n - before["protocols"].get(name, (0, size))[0]
        if grown:
            sockets[name] = grown
            socket_bytes += grown * after["caches"].get(name, (0, size))[1]
    caches = {n: (a - before["caches"].get(n, (0, s))[0]) * s for n, (a, s) in after["caches"].items()}
    grown_caches = sorted(((n, d) for n, d in caches.items() if d > 0), key=lambda nd: -nd[1])
    slab = (None if before["slab_bytes"] is None or after["slab_bytes"] is None
            else after["slab_bytes"] - before["slab_bytes"])
    return {"sockets": sockets, "socket_bytes": socket_bytes, "slab_bytes": slab,
            "top_caches": [list(nd) for nd in grown_caches[:top]]}
