"""The host delay line: constant delay and jitter on a router's egress
without netem, from iptables NFQUEUE and a small C loop (harness/delaysrc)
that issues each packet's verdict when it is due.  docs/delay.md has the
method, its fidelity and its ceiling.

    with DelayLine(router_ns, queues, families) as line:
        before = line.stats(); ...; after = line.stats()
        line_stats = difference(before, after)

One process serves every delayed link and direction of a router; it runs
inside the router's namespace and dies with its parent.  The NFQUEUE rules
sit in mangle POSTROUTING, after the forward hook's loss rule and before
the egress qdisc's rate: loss, then delay, then rate.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CapabilityError, TopologyError
from harness.host import netns, procs

log = logging.getLogger(__name__)

# tests/tools/delay_fidelity.py on a 2-vCPU machine of this kind (2026-11-30,
# docs/delay.md): TCP through one link at 50 ms each way reached 95 % of the
# model after slow start up to 4000 Mbit/s in two runs, not at 8000.  Half
# of that, for slower machines of the kind (they differ by 1.5x).  A link
# asking for more is refused rather than measured wrong.
CEILING_MBIT = 2000
# Only for measuring the ceiling itself (tests/tools/delay_fidelity.py).
CEILING_ENV = "MPTCP_BENCH_DELAY_CEILING_MBIT"
DIST_DIRS = (Path("/usr/lib/x86_64-linux-gnu/tc"), Path("/usr/lib/tc"), Path("/usr/share/tc"))
READY_S = 10.0
STATS_S = 5.0
RCVBUF = 64 << 20           # netlink notifications waiting to be read
MAXLEN = 1 << 17            # packets the kernel holds per queue before dropping
RT_PRIORITY = 10
PROC_QUEUES = "/proc/thread-self/net/netfilter/nfnetlink_queue"


@dataclass(frozen=True)
class Queue:
    """One delayed link direction: its NFQUEUE number and egress interface."""
    num: int
    ifname: str
    delay_ms: float
    jitter_ms: float = 0.0
    reorder: bool = False
    distribution: str | None = None   # a name (normal, pareto, ...) or a .dist path

    def argument(self) -> tuple:
        table = load_distribution(self.distribution) if self.distribution else None
        return (self.num, int(self.delay_ms * 1e6), int(self.jitter_ms * 1e6), self.reorder, table)


def available() -> tuple[bool, str]:
    """Whether the delay line was built; the reason when not."""
    try:
        from harness import _delayline  # noqa: F401
    except ImportError as exc:
        return False, (f"the delay line was not built ({exc}): install the Debian packages "
                       "libnetfilter-queue-dev libmnl-dev, then reinstall (make venv)")
    return True, "built"


def find_distribution(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".dist" or "/" in name:
        if path.is_file():
            return path
        raise CapabilityError(f"delay distribution file {name} does not exist")
    for d in DIST_DIRS:
        if (d / f"{name}.dist").is_file():
            return d / f"{name}.dist"
    raise CapabilityError(f"no delay distribution {name!r} in {', '.join(map(str, DIST_DIRS))}: "
                          "install the Debian package iproute2 or give a .dist file's path")


def load_distribution(name: str) -> list[int]:
    """An iproute2/netem distribution table: integers, 8192 per standard
    deviation, drawn uniformly (the inverse CDF sampled at equal steps)."""
    path = find_distribution(name)
    values = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0]
        try:
            values += [int(v) for v in line.split()]
        except ValueError:
            raise CapabilityError(f"{path} is not a distribution table: {line.strip()!r}") from None
    if not values or any(not -32768 <= v <= 32767 for v in values):
        raise CapabilityError(f"{path} is not a distribution table (16-bit integers)")
    return values


def queue_number(link: int, way: str) -> int:
    return 2 * link + (way == "down")


def check_spec(links, backend: str) -> None:
    """Refuse, in one sentence, a delayed link the backend would emulate
    wrong: above the delay line's measured ceiling, or unrated (the line
    itself would be the bottleneck); with netem, what it cannot do."""
    ceiling = float(os.environ.get(CEILING_ENV) or CEILING_MBIT)
    for i, link in enumerate(links):
        for way in ("up", "down"):
            d = link.direction(way)
            if not d.delayed:
                continue
            if backend == "host" and (d.rate_mbit is None or d.rate_mbit > ceiling):
                asked = "no rate" if d.rate_mbit is None else f"{d.rate_mbit:g} Mbit/s"
                raise CapabilityError(
                    f"link {i} is delayed with {asked} {way}, but the host delay line carries at "
                    f"most {ceiling:g} Mbit/s per link (measured, docs/delay.md): give it a "
                    f"rate of at most {ceiling:g} Mbit/s or use netem (--kernel IMAGE)")
            if backend == "netem" and d.distribution:
                raise CapabilityError(f"link {i}'s delay distribution needs the host delay line "
                                      "(--delay-backend host): this suite's netem takes none")
            if backend == "netem" and d.jitter_ms and not d.reorder:
                raise CapabilityError(f"link {i} asks for jitter that keeps packet order, which "
                                      "netem cannot do (it reorders): set reorder = true or use "
                                      "the host delay line (--delay-backend host)")


def rules(queues: list[Queue], families: tuple[int, ...]) -> list[list[str]]:
    tools = [{4: "iptables", 6: "ip6tables"}[f] for f in families]
    return [[tool, "-t", "mangle", "-A", "POSTROUTING", "-o", q.ifname, "-j", "NFQUEUE",
             "--queue-num", str(q.num)] for tool in tools for q in queues]


class DelayLine:
    def __init__(self, ns: str, queues: list[Queue], families: tuple[int, ...] = (4, 6)):
        self.ns, self.queues, self.families = ns, queues, families
        self.worker: procs.Worker | None = None
        self.final: dict | None = None

    def __enter__(self) -> "DelayLine":
        ok, why = available()
        if not ok:
            raise CapabilityError(why)
        config = {"ns": self.ns, "queues": [q.argument() for q in self.queues],
                  "seed": int.from_bytes(os.urandom(8), "little") or 1}
        self.worker = procs.Worker(procs.python_module("harness.net.delayline", json.dumps(config)),
                                   f"delay line in {self.ns}")
        msg = self.worker.message(time.monotonic() + READY_S)
        if not msg or msg.get("event") != "ready":
            self.worker.kill()
            raise TopologyError(f"the delay line in {self.ns} did not start: "
                                f"{self.worker.exit_summary()}")
        for argv in rules(self.queues, self.families):
            netns.run(self.ns, argv)
        log.info("delay line in %s: %s", self.ns, ", ".join(
            f"{q.ifname} {q.delay_ms:g}±{q.jitter_ms:g} ms" for q in self.queues))
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stats(self) -> dict:
        """Cumulative counters: the line's own, and the kernel's per queue."""
        if self.worker is None or self.worker._reap() is not None:
            raise TopologyError(f"the delay line in {self.ns} has ended: {self.worker.exit_summary()}")
        os.kill(self.worker.proc.pid, signal.SIGUSR1)
        msg = self.worker.message(time.monotonic() + STATS_S)
        if not msg or msg.get("event") != "stats":
            raise TopologyError(f"the delay line in {self.ns} did not answer for its counters")
        msg["kernel"] = netns.call_in(self.ns, kernel_queues)
        msg["cpu_s"] = process_cpu_s(self.worker.proc.pid)
        return msg

    def stop(self) -> None:
        if self.worker is None:
            return
        if self.worker._reap() is None:
            self.worker.proc.send_signal(signal.SIGTERM)
            msg = self.worker.message(time.monotonic() + STATS_S)
            self.final = msg if msg and msg.get("event") == "final" else None
        self.worker.kill()
        self.worker = None


def summary(before: dict, after: dict, queues: list[Queue]) -> dict:
    """What the line did between two stats(): per queue, packets, the
    kernel's drops, and how late verdicts came after their due time."""
    out, late_p99 = [], 0.0
    for q in queues:
        key = str(q.num)
        a, b = before["queues"][key], after["queues"][key]
        ka, kb = before["kernel"].get(key, {}), after["kernel"].get(key, {})
        hist = {int(k): v - a["late"].get(k, 0) for k, v in b["late"].items()}
        dropped = sum(kb.get(f, 0) - ka.get(f, 0) for f in ("queue_dropped", "user_dropped"))
        link, way = divmod(q.num, 2)
        row = {"link": link, "direction": ("up", "down")[way], "ifname": q.ifname,
               "packets": b["packets"] - a["packets"], "dropped": dropped,
               **late_percentiles(hist, b["bucket_ns"], after["hist_offset_ns"])}
        late_p99 = max(late_p99, row["late_us_p99"] or 0.0)
        out.append(row)
    return {"queues": out, "dropped": sum(r["dropped"] for r in out),
            "overruns": after["overruns"] - before["overruns"], "late_us_p99": late_p99,
            "lead_us": after["lead_ns"] / 1000, "cpu_s": round(after["cpu_s"] - before["cpu_s"], 3)}


def late_percentiles(hist: dict[int, int], bucket_ns: int, offset_ns: int) -> dict:
    """Percentiles of the signed release error (release time minus due
    time, negative when early), in µs, from the line's histogram: bucket b
    holds errors in [b, b+1) * bucket_ns - offset_ns; its middle is shown."""
    total = sum(hist.values())
    out = {"late_us_p1": None, "late_us_p50": None, "late_us_p99": None, "late_us_max": None}
    if not total:
        return out
    def value(b: int) -> float:
        return round(((b + 0.5) * bucket_ns - offset_ns) / 1000, 1)
    seen, edges = 0, sorted(b for b, n in hist.items() if n > 0)
    for b in edges:
        seen += hist[b]
        for q, key in ((0.01, "late_us_p1"), (0.5, "late_us_p50"), (0.99, "late_us_p99")):
            if out[key] is None and seen >= q * total:
                out[key] = value(b)
    out["late_us_max"] = value(edges[-1])
    return out


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kernel_queues() -> dict[str, dict]:
    """/proc/net/netfilter/nfnetlink_queue of the calling thread's namespace:
    per queue, packets held now and packets the kernel dropped."""
    out = {}
    try:
        text = Path(PROC_QUEUES).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8:
            out[f[0]] = {"held": int(f[2]), "queue_dropped": int(f[5]), "user_dropped": int(f[6]),
                         "id_sequence": int(f[7])}
    return out


def main(argv: list[str]) -> int:
    from harness import _engine
    cfg = json.loads(argv[1])
    _engine.set_pdeathsig(signal.SIGKILL)
    if os.getppid() == 1:
        return 1
    netns.enter(cfg["ns"])
    return run_loop(cfg["queues"], cfg["seed"])


def run_loop(queues: list, seed: int) -> int:
    """The C loop on `queues` until it is killed, at SCHED_FIFO when allowed;
    its exit status (3: it could not run)."""
    from harness import _delayline
    try:   # a wire does not wait for a CPU: run before the workers (RT-throttled by the kernel)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except OSError as exc:
        print(f"delay line: SCHED_FIFO refused ({exc.strerror}); running at normal priority",
              file=sys.stderr)
    try:
        _delayline.run([tuple(q) for q in queues], rcvbuf=RCVBUF, maxlen=MAXLEN, seed=seed)
    except OSError as exc:
        print(str(exc), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
