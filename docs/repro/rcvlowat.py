#!/usr/bin/env python3
"""SO_RCVLOWAT and MPTCP goodput, reduced to two namespaces and one veth.

Run as root on a kernel with MPTCP: python3 rcvlowat.py [seconds-per-case]
It builds namespaces mpb-repro-<pid>-{a,b} (198.18.0.1 <-> 198.18.0.2),
then, for TCP and MPTCP, sends for a few seconds from a to b while the
receiver reads with recv(MSG_TRUNC) of 128 KiB, with and without
SO_RCVLOWAT = 1 MiB, sender pinned to CPU 0 and receiver to CPU 1.  It
prints goodput, receive calls and the receiver's wake-ups per GB, and the
msk's / socket's SO_RCVBUF after the transfer.  Everything it made is
removed on exit.  Standard library only.
"""
import os
import socket
import subprocess
import sys
import time

from twons import NS, counters, setup, teardown

IPPROTO_MPTCP = 262
PORT = 5201
CHUNK = 128 * 1024


def receiver(proto, lowat):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", PORT))
    srv.listen(1)
    print("ready", flush=True)
    conn, _ = srv.accept()
    if lowat:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
    buf = bytearray(max(CHUNK, lowat))
    total = calls = stalls = 0
    start = last = None
    ru0 = os.times()
    while True:
        n = conn.recv_into(buf, len(buf), socket.MSG_TRUNC)
        now = time.monotonic()
        if n == 0:
            break
        start = start or now
        stalls += bool(last and now - last >= 0.05)     # 50 ms without a byte
        total, calls, last = total + n, calls + 1, now
    elapsed = last - start
    with open("/proc/self/status") as f:
        switches = sum(int(line.split()[1]) for line in f if "voluntary_ctxt_switches" in line
                       and not line.startswith("nonvoluntary"))
    rcvbuf = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    cpu = sum(os.times()[:2]) - sum(ru0[:2])
    gb = total / 1e9
    print(f"{total * 8 / elapsed / 1e9:6.2f} Gbit/s  {calls / gb:8.0f} calls/GB  "
          f"{switches / gb:8.0f} wake-ups/GB  receiver CPU {cpu / gb:.3f} s/GB  "
          f"SO_RCVBUF {rcvbuf >> 10} KiB  {stalls} gap(s) >= 50 ms", end="", flush=True)


def sender(proto, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    s.connect(("198.18.0.2", PORT))
    data = b"x" * CHUNK
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(data)
    s.close()


WATCH = ("MPTcpExtMPTCPRetrans", "MPTcpExtDuplicateData", "MPTcpExtRcvPruned",
         "TcpExtTCPRcvCollapsed", "TcpExtPruneCalled", "TcpExtTCPZeroWindowDrop")


def case(proto, lowat, seconds):
    me = os.path.abspath(__file__)
    before = {side: counters(side) for side in "ab"}
    rx = subprocess.Popen(["ip", "netns", "exec", f"{NS}-b", "taskset", "-c", "1", sys.executable,
                           me, "receiver", str(proto), str(lowat)], stdout=subprocess.PIPE,
                          text=True)
    rx.stdout.readline()
    subprocess.run(["ip", "netns", "exec", f"{NS}-a", "taskset", "-c", "0", sys.executable, me,
                    "sender", str(proto), str(seconds)], check=True)
    out = rx.stdout.read().strip()
    rx.wait()
    moved = {f"{side}:{k[len('MPTcpExt') if k.startswith('MPTcpExt') else len('TcpExt'):]}":
             counters(side).get(k, 0) - before[side].get(k, 0)
             for side in "ab" for k in WATCH}
    return out + "  " + " ".join(f"{k}={v}" for k, v in moved.items() if v)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4
    print(f"kernel {os.uname().release}")
    setup()
    try:
        for name, proto in (("TCP", socket.IPPROTO_TCP), ("MPTCP", IPPROTO_MPTCP)):
            for lowat in (0, 1 << 20):
                label = f"{name:5} SO_RCVLOWAT {'1 MiB' if lowat else 'unset'}"
                print(f"{label:28} {case(proto, lowat, seconds)}", flush=True)
    finally:
        teardown()


if __name__ == "__main__":
    if sys.argv[1:2] == ["receiver"]:
        receiver(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1:2] == ["sender"]:
        sender(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
