"""The event loop (harness/csrc/engine/evloop.c) over socketpairs: each
connection's counts are its own, the merged loop is their sum in the shape
of every other loop, a byte budget and the shutdown hold per connection,
and a silent connection fails by its idle timeout."""
import errno
import socket
import threading

import pytest

from harness import _engine
from harness.traffic.workloads.bulk import merge_loops


def pairs(n: int):
    return [socket.socketpair() for _ in range(n)]


def transfer(n: int, threads: int, **send_kw) -> tuple[dict, dict]:
    ps = pairs(n)
    got: dict = {}
    reader = threading.Thread(target=lambda: got.update(_engine.evloop_recv(
        [b.fileno() for _, b in ps], threads=threads, bufsize=65536, verify_seed=5)))
    reader.start()
    sent = _engine.evloop_send([a.fileno() for a, _ in ps], threads=threads, bufsize=65536,
                               seed=5, **send_kw)
    reader.join()
    for a, b in ps:
        a.close()
        b.close()
    return sent, got


def test_each_connection_is_counted_apart_and_the_merge_is_their_sum():
    sent, got = transfer(8, 3, duration_ns=200_000_000)
    assert sent["threads"] == got["threads"] == 3
    per = [f["bytes"] for f in sent["flows"]]
    assert per == [f["bytes"] for f in got["flows"]] and min(per) > 0
    for end in (sent, got):
        loop = end["loop"]
        assert loop["error"] is None and loop["bytes"] == sum(per) == sum(loop["intervals"])
        assert loop["calls"] == sum(f["calls"] for f in end["flows"])
    assert got["loop"]["verify"] == {"checked": sum(per), "mismatched": 0, "first_bad_offset": None}


def test_the_merged_loop_is_what_merge_loops_makes_of_the_connections():
    sent, _ = transfer(5, 2, duration_ns=100_000_000)
    merged = merge_loops(sent["flows"])
    for key in ("bytes", "calls", "start_ns", "first_ns", "last_ns", "intervals"):
        assert merged[key] == sent["loop"][key], key


def test_a_byte_budget_holds_per_connection_and_each_ends_with_a_shutdown():
    sent, got = transfer(6, 4, max_bytes=300_001)
    assert [f["bytes"] for f in sent["flows"]] == [300_001] * 6
    assert got["loop"]["bytes"] == 6 * 300_001 and got["loop"]["error"] is None


def test_one_thread_per_connection_at_most():
    sent, _ = transfer(2, 8, max_bytes=1000)
    assert sent["threads"] == 2


def test_a_silent_connection_fails_by_its_idle_timeout():
    (a, b), (c, d) = pairs(2)
    with a, b, c, d:
        c.shutdown(socket.SHUT_WR)          # the second ends at once; the first stays silent
        r = _engine.evloop_recv([b.fileno(), d.fileno()], threads=1, idle_timeout_ns=300_000_000)
    assert r["flows"][1]["error"] is None
    assert r["loop"]["error"]["call"] == "recv" and r["loop"]["error"]["errno"] == errno.ETIMEDOUT


@pytest.mark.parametrize("call,kw", [(_engine.evloop_send, {"mode": "splice", "max_bytes": 1}),
                                     (_engine.evloop_recv, {"mode": "splice"}),
                                     (_engine.evloop_send, {"threads": 0, "max_bytes": 1}),
                                     (_engine.evloop_send, {})])
def test_what_the_event_loop_does_not_do_is_refused(call, kw):
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError):
        call([a.fileno()], **kw)


IDLE_S = 60
STOPPED = f"""
import signal, socket
from harness import _engine

class Stop(Exception):
    pass

def raise_stop(signum, frame):
    raise Stop

ps = [socket.socketpair() for _ in range(4)]
signal.signal(signal.SIGALRM, raise_stop)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    _engine.evloop_recv([b.fileno() for _, b in ps], threads=2, idle_timeout_ns={IDLE_S} * 10**9)
except Stop:
    print("stopped")
"""


def test_a_signal_handler_that_raises_stops_every_thread():
    """Signals reach the calling thread (the others block them); a Python
    handler that raises ends the whole loop, not only the caller's share.
    Had a thread missed the stop, the call would last until that thread's
    idle timeout, past the deadline given here."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", STOPPED], capture_output=True, text=True,
                          timeout=IDLE_S / 2)
    assert proc.returncode == 0 and proc.stdout.strip() == "stopped", proc.stderr


def test_the_done_exchange_reads_one_byte_or_the_close_of_each():
    ps = pairs(5)
    for i, (a, _) in enumerate(ps):
        if i == 3:
            a.close()                      # a peer that closed without a byte
        else:
            a.sendall(b"\x01")
    r = _engine.exchange([b.fileno() for _, b in ps], idle_timeout_ns=2_000_000_000)
    assert r["got"] == [1, 1, 1, -1, 1] and r["errno"] == 0 and r["cpu_ns"] > 0
    for _, b in ps:
        b.close()


def test_the_receivers_exchange_sends_then_waits_for_every_close():
    ps = pairs(4)
    back: dict = {}
    t = threading.Thread(target=lambda: back.update(_engine.exchange(
        [b.fileno() for _, b in ps], send=7, idle_timeout_ns=5_000_000_000)))
    t.start()
    for a, _ in ps:
        assert a.recv(1) == b"\x07"
        a.close()
    t.join()
    assert back["got"] == [-1] * 4 and back["errno"] == 0
    for _, b in ps:
        b.close()


def test_a_silent_peer_fails_the_exchange_by_its_idle_timeout():
    ps = pairs(2)
    ps[0][0].sendall(b"\x01")
    r = _engine.exchange([b.fileno() for _, b in ps], idle_timeout_ns=300_000_000)
    assert r["errno"] == errno.ETIMEDOUT and r["call"] == "recv(done)"
    for a, b in ps:
        a.close()
        b.close()
