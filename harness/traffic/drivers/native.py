"""The native driver: harness.traffic.worker processes running the C engine."""
from __future__ import annotations

import time

from harness.host import procs
from harness.traffic.drivers import STOP_SIGNAL, TrialParams, register


@register
class NativeDriver:
    name = "native"
    engine_features = True   # workloads, send/receive modes, verification

    def check(self) -> None:
        from harness import _engine  # noqa: F401  (ImportError if not built)

    def _config(self, topo, role: str, p: TrialParams) -> dict:
        return {
            "role": role, "family": p.family,
            "protocol": (p.server_protocol or p.protocol) if role == "receiver" else p.protocol,
            "netns": topo.ns("server" if role == "receiver" else "client"),
            "cpu": p.cpu_receiver if role == "receiver" else p.cpu_sender,
            # The wildcard: joins may target any address the server announces
            # (signal endpoints), and a listener bound to one would reset them.
            "listen": "::" if p.family == 6 else "0.0.0.0",
            "bind": topo.client_address(p.family, p.link),
            "connect": topo.server_address(p.family, p.link),
            "duration_s": p.duration_s, "max_bytes": p.max_bytes, "bufsize": p.bufsize,
            "interval_ms": p.interval_ms, "accept_timeout_s": 10.0,
            "idle_timeout_s": _idle_timeout_s(p), "workload": p.workload,
            "send_mode": p.send_mode,
            "recv_mode": p.recv_mode, "recv_lowat": p.recv_lowat,
            "notsent_lowat": p.notsent_lowat, "verify": p.verify, "seed": p.seed,
            "corrupt_at": p.extra.get("corrupt_at", -1), "request_bytes": p.request_bytes,
            "response_bytes": p.response_bytes, "pace_ms": p.pace_ms, "flows": p.flows,
            "load_flows": p.load_flows,
            "tcp_retry": p.tcp_retry,
        }

    def _spawn(self, topo, role: str, p: TrialParams, **extra) -> procs.Worker:
        cfg = {**self._config(topo, role, p), **extra}
        return topo.start_worker(role, cfg, role)

    def run(self, topo, params: TrialParams, started=None) -> dict:
        deadline = time.monotonic() + params.deadline_s()
        out: dict = {"sender": None, "receiver": None, "error": None}
        with self._spawn(topo, "receiver", params) as receiver:
            ready = receiver.message(min(deadline, time.monotonic() + 15))
            if not ready or ready.get("event") != "listening":
                return _failed(out, "receiver", receiver, ready, params)
            ports = {k: ready[k] for k in ("port", "load_port") if k in ready}
            with self._spawn(topo, "sender", params, **ports) as sender:
                first = sender.message(deadline)
                if first and first.get("event") == "connected" and started:
                    started()
                last = _final_message(sender, deadline)
                ends = {"sender": (sender, last or (first if first and first.get("event") in
                                                    ("result", "error") else None))}
                # When the sender failed, the receiver is given a moment to
                # say why: a receive mode it cannot do explains the sender's
                # broken pipe.  Then it is ended rather than left waiting.
                # After a sender that had sent data (a connection that hung),
                # a local receiver is asked to stop and say what it got.
                wait = deadline if _is_result(ends["sender"][1]) else time.monotonic() + 2
                if not _is_result(ends["sender"][1]) and _sent_some(ends["sender"][1]) \
                        and topo.local and receiver.proc.poll() is None:
                    receiver.proc.send_signal(STOP_SIGNAL)
                ends["receiver"] = (receiver, _final_message(receiver, min(deadline, wait)))
                # What each end moved before a failure: the bytes sent, the
                # receiver's series and its verification up to there.
                partial = {name: msg["partial"] for name, (_, msg) in ends.items()
                           if msg and msg.get("event") == "error" and msg.get("partial")}
                if partial:
                    out["partial"] = partial
                # The cause before its symptoms: a mode an end cannot do, then
                # an end killed without a word (the other end's error is what
                # that did to it).
                for name in sorted(ends, key=lambda n: (not _is_unsupported(ends[n][1]),
                                                        not _died(*ends[n]))):
                    worker, msg = ends[name]
                    if not _is_result(msg):
                        return _failed(out, name, worker, msg, params)
                    out[name] = {k: v for k, v in msg.items() if k != "event"}
        return out


def _idle_timeout_s(p: TrialParams) -> float:
    # A path may be down for most of a trial (handover.toml): a receiver
    # gives up on a silent connection only after as long.
    return max(10.0, p.duration_s + 2)


def _sent_some(msg: dict | None) -> bool:
    loop = ((msg or {}).get("partial") or {}).get("loop") or {}
    return bool(loop.get("bytes"))


def _is_result(msg: dict | None) -> bool:
    return bool(msg) and msg["event"] == "result"


def _is_unsupported(msg: dict | None) -> bool:
    return bool(msg) and msg["event"] == "error" and bool(msg.get("unsupported"))


def _died(worker: procs.Worker, msg: dict | None) -> bool:
    """Killed by a signal without a word (a remote one's status is 128 + N,
    as a shell's), not ended by its own error."""
    code = worker.proc.poll()
    return msg is None and code is not None and (code < 0 or code > 128)


def _final_message(worker: procs.Worker, deadline: float) -> dict | None:
    worker.wait(deadline)
    msgs = [m for m in worker.messages() if m.get("event") in ("result", "error")]
    return msgs[-1] if msgs else None


def _failed(out: dict, name: str, worker: procs.Worker, msg: dict | None,
            params: TrialParams) -> dict:
    if msg and msg.get("event") == "error":
        out["error"] = {**{k: v for k, v in msg.items() if k not in ("event", "partial")},
                        "side": name}
    elif worker.proc.poll() is None:
        out["error"] = {"call": f"{name} worker", "errno": "ETIMEDOUT", "side": name,
                        "message": f"the {name} did not finish within "
                                   f"{params.deadline_s():.0f} s"}
    else:
        worker.wait(time.monotonic() + 2)
        out["error"] = {"call": f"{name} worker", "errno": None, "side": name,
                        "message": f"the {name} {worker.exit_summary()}"}
    return out
