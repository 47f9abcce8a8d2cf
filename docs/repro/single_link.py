#!/usr/bin/env python3
"""MPTCP's cost on one unshaped link against TCP, alone and beside one
CPU-bound process, reduced to two namespaces and one veth.

Run as root on a kernel with MPTCP: python3 single_link.py [seconds-per-case]
It builds namespaces mpb-repro-<pid>-{a,b} (198.18.0.1 <-> 198.18.0.2) and,
for TCP and MPTCP in turn, sends for a few seconds from a to b (128 KiB
sendall, sender pinned to CPU 0, receiver to CPU 1, copying recv_into of
128 KiB); then the same with one busy-looping process started beside them,
not pinned (what a shared machine does to them).  Per case it prints goodput,
the receiver's gaps of 50 ms or more without a byte, the MIB counters that
moved, and the MPTCP tracepoints' hits per MB (machine-wide, counted by perf
where it is installed).  The last lines give MPTCP/TCP per condition.
Everything it made is removed on exit.  Standard library only.
"""
import os
import signal
import socket
import subprocess
import sys
import time

from twons import ADDR, Tracepoints, counters, moved, ns, setup, teardown

IPPROTO_MPTCP = 262
PORT = 5202
CHUNK = 128 * 1024
WATCH = ("MPTcpExtMPTCPRetrans", "MPTcpExtDuplicateData", "MPTcpExtRcvPruned",
         "MPTcpExtOFOQueue", "TcpExtTCPRcvCollapsed", "TcpExtPruneCalled",
         "TcpExtTCPZeroWindowDrop", "TcpExtTCPBacklogDrop")


def receiver(proto):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ADDR["b"], PORT))
    srv.listen(1)
    print("ready", flush=True)
    conn, _ = srv.accept()
    buf = bytearray(CHUNK)
    total = gaps = 0
    start = last = None
    while True:
        n = conn.recv_into(buf)
        now = time.monotonic()
        if n == 0:
            break
        start = start or now
        gaps += bool(last and now - last >= 0.05)
        total, last = total + n, now
    print(f"{total} {last - start} {gaps}", flush=True)


def sender(proto, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    s.connect((ADDR["b"], PORT))
    data = b"x" * CHUNK
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(data)
    s.close()


def case(proto, seconds, hog):
    me = os.path.abspath(__file__)
    before = {side: counters(side) for side in "ab"}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if hog else None
    try:
        rx = subprocess.Popen([*ns("b"), "taskset", "-c", "1", sys.executable, me, "receiver",
                               str(proto)], stdout=subprocess.PIPE, text=True)
        rx.stdout.readline()
        with Tracepoints() as tp:
            subprocess.run([*ns("a"), "taskset", "-c", "0", sys.executable, me, "sender",
                            str(proto), str(seconds)], check=True)
            total, elapsed, gaps = rx.stdout.read().split()
            rx.wait()
    finally:
        if busy:
            busy.send_signal(signal.SIGTERM)
            busy.wait()
    total, elapsed = int(total), float(elapsed)
    mb = total / 1e6
    per_mb = " ".join(f"{k}={v / mb:.2f}/MB" for k, v in tp.counts.items() if v)
    gbit = total * 8 / elapsed / 1e9
    return gbit, f"{gbit:7.3f} Gbit/s  {gaps} gap(s) >= 50 ms  {moved(before, WATCH)}" + \
        (f"\n      tracepoints: {per_mb}" if per_mb else "")


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs")
    setup()
    results = {}
    try:
        for hog in (False, True):
            for name, proto in (("TCP", socket.IPPROTO_TCP), ("MPTCP", IPPROTO_MPTCP)):
                gbit, text = case(proto, seconds, hog)
                results[name, hog] = gbit
                label = f"{name:5} {'beside a CPU hog' if hog else 'alone'}"
                print(f"{label:24} {text}", flush=True)
    finally:
        teardown()
    for hog in (False, True):
        print(f"MPTCP/TCP {'beside a CPU hog' if hog else 'alone'}: "
              f"{results['MPTCP', hog] / results['TCP', hog]:.2f}")
    print(f"beside a CPU hog / alone: TCP {results['TCP', True] / results['TCP', False]:.2f}, "
          f"MPTCP {results['MPTCP', True] / results['MPTCP', False]:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["receiver"]:
        receiver(int(sys.argv[2]))
    elif sys.argv[1:2] == ["sender"]:
        sender(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
