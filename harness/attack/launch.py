"""One attack of a trial, seen from the orchestrator: the attacker process
starts in its namespace before the connection (on-path, it must see the
handshake), and is told to go at the attack's time."""
from __future__ import annotations

import json
import time

from harness.attack import kinds
from harness.errors import WorkerError
from harness.host import netns, procs
from harness.measure import sockdiag
from harness.net import addressing

READY_S = 30.0        # a VM lane's emulated CPU imports slowly
RESULT_S = 15.0


class Attacker:
    def __init__(self, topo, kind: str, count: int, rate_pps: float | None = None):
        self.topo, self.kind, self.count, self.rate_pps = topo, kind, count, rate_pps
        self.family = topo.spec.families[0]
        self.worker: procs.Worker | None = None

    def __enter__(self) -> "Attacker":
        if self.family != 4:
            raise WorkerError("the attacker crafts IPv4 packets only: give the scenario family = 4")
        plan = {"kind": self.kind, "count": self.count, "rate_pps": self.rate_pps,
                "iface": addressing.ATTACKER_IFNAMES["attacker"],
                "attacker": self.topo.attacker_address(self.family)}
        argv = procs.dying_with_parent(procs.python_module("harness.attack.attacker",
                                                           json.dumps(plan)))
        self.worker = procs.Worker(netns.command(self.topo.ns("attacker"), argv),
                                   f"attacker ({self.kind})", stdin=True)
        msg = self.worker.message(time.monotonic() + READY_S)
        if not msg or msg.get("event") != "ready":
            self.worker.kill()
            raise WorkerError(f"the attacker did not start: {msg or self.worker.stderr_text()[-300:]}")
        return self

    def go(self) -> dict:
        """Attack now; what the attacker reports (a sustained attack: that
        it started; finish() gives its result)."""
        self.worker.send(self._target())
        if self.kind in kinds.SUSTAINED:
            msg = self.worker.message(time.monotonic() + RESULT_S)
            return {"kind": self.kind, "started": bool(msg and msg.get("event") == "started")}
        return self._result()

    def finish(self) -> dict | None:
        """A sustained attack's result, once the trial is over."""
        if self.kind not in kinds.SUSTAINED or self.worker.proc.poll() is not None:
            return None
        try:
            self.worker.send({"stop": True})
        except OSError:
            return None
        return self._result()

    def _result(self) -> dict:
        msg = self.worker.message(time.monotonic() + RESULT_S)
        if not msg or msg.get("event") != "result":
            return {"kind": self.kind, "error": f"no result from the attacker: "
                    f"{msg or self.worker.stderr_text()[-300:] or 'nothing'}"}
        msg.pop("event")
        return msg

    def _target(self) -> dict:
        """The server's address and its listener's port (what an off-path
        attacker of a public service knows), and whether that listener is
        MPTCP's (a flood then carries MP_CAPABLE, as MPTCP clients' SYNs do)."""
        server = self.topo.server_address(self.family)
        listeners = sorted(netns.call_in(self.topo.ns("server"), sockdiag.listeners, self.family),
                           key=lambda c: c["local_port"])
        port = listeners[0]["local_port"] if listeners else 0
        return {"server": [server, port],
                "mptcp_listener": any(c["protocol"] == "mptcp" and c["local_port"] == port
                                      for c in listeners)}

    def __exit__(self, *exc) -> None:
        if self.worker is not None:
            self.worker.kill()

    def cpu_s(self) -> float | None:
        return self.worker.cpu_s() if self.worker else None
