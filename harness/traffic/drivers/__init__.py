"""Traffic drivers, registered by name.

A driver runs one transfer between the client and server namespaces of a
topology and returns what each end measured, as plain data.  The protocol
is a field of TrialParams: no driver has a TCP path and an MPTCP path.
"""
from __future__ import annotations

import os
import signal
from dataclasses import asdict, dataclass, field
from typing import Protocol

from harness.errors import CapabilityError

TIMEOUT_SCALE_ENV = "MPTCP_BENCH_TIMEOUT_SCALE"

# The driver's "say what you have" to a worker (harness.traffic.worker): its
# running loop stops and it reports what it moved (a receiver whose sender
# failed on a hung connection).
STOP_SIGNAL = signal.SIGUSR1


@dataclass(frozen=True)
class TrialParams:
    protocol: str                 # "tcp" | "mptcp"
    server_protocol: str | None = None  # the listener's, when it differs (a plain-TCP server)
    family: int = 4
    duration_s: float = 5.0
    max_bytes: int = 0            # 0: run for duration_s
    bufsize: int = 128 * 1024
    interval_ms: float = 100.0
    cpu_sender: int | None = None
    cpu_receiver: int | None = None
    link: int = 0                 # the link of the initial (or only) subflow
    timeout_s: float = 0          # 0: derived from the duration
    workload: str = "bulk"        # bulk | rr | crr | rr_under_load | hold
    send_mode: str = "send"       # engine send mode (bulk, and the load of rr_under_load)
    recv_mode: str = "recv"       # engine receive mode (likewise)
    recv_lowat: int = 0           # SO_RCVLOWAT of the bulk receiver, bytes (0: kernel default)
    notsent_lowat: int = 0        # TCP_NOTSENT_LOWAT of the bulk sender, bytes (0: kernel default)
    verify: bool = False          # the receiver checks every byte of the seeded pattern
    seed: int = 1                 # seed of the payload pattern
    request_bytes: int = 1        # RR / CRR message sizes
    response_bytes: int = 1
    pace_ms: float = 0            # RR, one flow: a request at most every pace_ms (a mostly idle connection)
    flows: int = 1                # concurrent connections (bulk, rr, hold)
    load_flows: int = 1           # bulk flows beside the RR flows (rr_under_load)
    tcp_retry: bool = False       # the client retries with TCP when its MPTCP socket() fails
    load_cpus: tuple[int, ...] = ()   # a CPU-bound process on each, beside the trial (cpuload)
    extra: dict = field(default_factory=dict)   # test hooks, e.g. {"corrupt_at": offset}

    def deadline_s(self) -> float:
        """How long a trial may take before it is failed as hung.  The VM
        lane's emulated CPU is an order of magnitude slower: it sets
        TIMEOUT_SCALE_ENV."""
        if self.timeout_s:
            return self.timeout_s
        base = 2 * self.duration_s + 15 if self.duration_s else 120
        return base * float(os.environ.get(TIMEOUT_SCALE_ENV, "1"))

    def as_dict(self) -> dict:
        return asdict(self)

    def engine_features(self) -> list[str]:
        """What this trial asks for beyond a copying bulk transfer."""
        asked = [f"the {self.workload} workload"] if self.workload != "bulk" else []
        asked += [f"send mode {self.send_mode}"] if self.send_mode != "send" else []
        asked += [f"receive mode {self.recv_mode}"] if self.recv_mode != "recv" else []
        asked += ["a receive low-water mark (SO_RCVLOWAT)"] if self.recv_lowat else []
        asked += ["an unsent-data low-water mark (TCP_NOTSENT_LOWAT)"] if self.notsent_lowat else []
        return asked + (["data verification"] if self.verify else [])


class Driver(Protocol):
    name: str

    def check(self) -> None:
        """Raise CapabilityError when the driver cannot run here."""

    def run(self, topo, params: TrialParams, started=None) -> dict:
        """{"sender": {...}, "receiver": {...}, "error": None | {...}};
        `started()`, when given, is called once the client has connected."""


def refusal(driver: Driver, params: TrialParams) -> dict | None:
    """A raw result refusing the trial when it asks for engine features the
    driver lacks (only a driver with `engine_features = True` has them): a
    tool driver would otherwise run a plain bulk transfer under their name."""
    asked = [] if getattr(driver, "engine_features", False) else params.engine_features()
    if not asked:
        return None
    return {"sender": None, "receiver": None,
            "error": {"call": f"{driver.name} driver", "errno": None, "unsupported": True,
                      "mode": None, "side": None,
                      "message": f"the {driver.name} driver cannot run {', '.join(asked)}; "
                                 "only the native engine can"}}


_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get(name: str) -> Driver:
    _load_builtin()
    if name not in _REGISTRY:
        raise CapabilityError(f"unknown driver {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def _load_builtin() -> None:
    from harness.traffic.drivers import iperf3, native  # noqa: F401  (they register themselves)
