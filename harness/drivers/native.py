"""The native driver: harness.worker processes running the C engine."""
from __future__ import annotations

import json
import time

from harness import procs
from harness.drivers import TrialParams, register


@register
class NativeDriver:
    name = "native"

    def check(self) -> None:
        from harness import _engine  # noqa: F401  (ImportError if not built)

    def _config(self, topo, role: str, p: TrialParams) -> dict:
        return {
            "role": role, "family": p.family,
            "protocol": (p.server_protocol or p.protocol) if role == "receiver" else p.protocol,
            "netns": topo.ns("server" if role == "receiver" else "client"),
            "cpu": p.cpu_receiver if role == "receiver" else p.cpu_sender,
            "listen": topo.server_address(p.family, p.link),
            "bind": topo.client_address(p.family, p.link),
            "connect": topo.server_address(p.family, p.link),
            "duration_s": p.duration_s, "max_bytes": p.max_bytes, "bufsize": p.bufsize,
            "interval_ms": p.interval_ms, "accept_timeout_s": 10.0,
            "idle_timeout_s": 10.0,
        }

    def _spawn(self, topo, role: str, p: TrialParams, **extra) -> procs.Worker:
        cfg = {**self._config(topo, role, p), **extra}
        return procs.Worker(procs.python_module("harness.worker", json.dumps(cfg)), role)

    def run(self, topo, params: TrialParams) -> dict:
        deadline = time.monotonic() + params.deadline_s()
        out: dict = {"sender": None, "receiver": None, "error": None}
        with self._spawn(topo, "receiver", params) as receiver:
            ready = receiver.message(min(deadline, time.monotonic() + 15))
            if not ready or ready.get("event") != "listening":
                return _failed(out, "receiver", receiver, ready, params)
            with self._spawn(topo, "sender", params, port=ready["port"]) as sender:
                # The sender first: when it fails, the receiver is ended
                # rather than left waiting for a connection.
                for name, worker in (("sender", sender), ("receiver", receiver)):
                    msg = _final_message(worker, deadline)
                    if not msg or msg["event"] != "result":
                        return _failed(out, name, worker, msg, params)
                    out[name] = {k: v for k, v in msg.items() if k != "event"}
        return out


def _final_message(worker: procs.Worker, deadline: float) -> dict | None:
    worker.wait(deadline)
    msgs = [m for m in worker.messages() if m.get("event") in ("result", "error")]
    return msgs[-1] if msgs else None


def _failed(out: dict, name: str, worker: procs.Worker, msg: dict | None,
            params: TrialParams) -> dict:
    if msg and msg.get("event") == "error":
        out["error"] = {**{k: v for k, v in msg.items() if k != "event"}, "side": name}
    elif worker.proc.poll() is None:
        out["error"] = {"call": f"{name} worker", "errno": "ETIMEDOUT", "side": name,
                        "message": f"the {name} did not finish within "
                                   f"{params.deadline_s():.0f} s"}
    else:
        worker.wait(time.monotonic() + 2)
        tail = worker.stderr_text().splitlines()[-1:] or ["no output"]
        out["error"] = {"call": f"{name} worker", "errno": None, "side": name,
                        "message": f"the {name} exited with status {worker.proc.returncode}: "
                                   f"{tail[0]}"}
    return out
