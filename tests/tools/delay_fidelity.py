"""The delay line's fidelity benchmark (docs/delay.md): how close the delay
it adds is to the configured one, whether shaped TCP through it reaches the
link model, and where its ceiling is.

    sudo .venv/bin/python tests/tools/delay_fidelity.py OUT [--backend host|netem]
        [--rates 500,1000,2000,4000] [--repeat 3] [--analyse-only]

It measures the added delay with a kernel-timestamped probe, then makes
two runs under OUT:
  fidelity/  the delay-fidelity suite: 1-byte RR on a link with and without
             20 ms each way (the added one-way delay of a transaction is
             (its latency - the undelayed median) / 2), and TCP bulk
             through 10 Mbit/s at 40 ms each way against the link model;
  ceiling/   TCP bulk through one link at each of --rates, 50 ms each way,
             with buffers for its bandwidth-delay product (the configured
             ceiling lifted for the measurement).
and prints the verdicts against the goals:
  added delay of a 1-byte RR within 0.2 ms of 20 ms at p50 and within 1 ms at
  p99: the verdict is the probe's (1-byte UDP request/response, kernel
  receive timestamps on both ends, the server's turnaround taken out, so a
  process waking from idle is not counted; the reference is the same probe
  on an undelayed link); the engine's RR trials are reported beside it,
  against the engine's own hot-loop RR on an undelayed link: their p99 also
  holds the endpoints' wake-ups from 40 ms of idle (docs/delay.md);
  bulk goodput >= 95 % of the link model;
  the ceiling: the highest rate whose median TCP goodput after slow start
  (the first 3 s left out) reached 95 % of the model with no packet dropped
  by the line, with packets/s and the line's CPU.
The verdicts also go to OUT/fidelity.json.  Exit 0 when every goal is met.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import results_format  # noqa: E402
from harness.host import netns  # noqa: E402
from harness.net import delayline  # noqa: E402
from harness.net.spec import LinkSpec, TopologySpec  # noqa: E402
from harness.net.topology import Topology  # noqa: E402

CONFIGURED_MS = 20.0
P50_GOAL_MS, P99_GOAL_MS, BULK_GOAL = 0.2, 1.0, 0.95
STEADY_SKIP_S = 3.0
CEILING_DELAY_MS = 50
BIG_BUFFERS = '"net.ipv4.tcp_rmem" = "4096 131072 134217728", "net.ipv4.tcp_wmem" = "4096 16384 134217728"'


def ceiling_defs(rates: list[int], repeat: int) -> str:
    out = []
    for r in rates:
        out.append(f'[scenario.ceiling-{r}]\ndescription = "TCP bulk through {r} Mbit/s, '
                   f'{CEILING_DELAY_MS} ms each way"\nprotocols = ["tcp"]\n'
                   f'links = [{{ rate_mbit = {r}, delay_ms = {CEILING_DELAY_MS} }}]\n'
                   f'sysctls = {{ {BIG_BUFFERS} }}\n')
    names = ", ".join(f'"ceiling-{r}"' for r in rates)
    out.append(f'[suite.ceiling]\ndescription = "the delay line\'s ceiling"\nscenarios = [{names}]\n'
               f'repeat = {repeat}\nwarmup = 1\nduration_s = 10\n')
    return "\n".join(out)


def bench(*args: str, env: dict | None = None) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "run", *args], cwd=ROOT, env=env)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bench run {' '.join(args)} exited {proc.returncode}")


def ok_trials(doc: dict, scenario: str, protocol: str | None = None) -> list[dict]:
    return [t for t in doc["trials"] if t["scenario"] == scenario and t["status"] == "ok"
            and (protocol is None or t["protocol"] == protocol)]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def rr_verdict(doc: dict) -> dict:
    out = {}
    for proto in ("tcp", "mptcp"):
        base = [v for t in ok_trials(doc, "fidelity-rr-base", proto) for v in t["latency_samples_us"]]
        delayed = [v for t in ok_trials(doc, "fidelity-rr-20ms", proto)
                   for v in t["latency_samples_us"]]
        if not base or not delayed:
            continue
        ref = statistics.median(base)
        added = [(v - ref) / 2 / 1000 for v in delayed]
        p50, p99 = percentile(added, 0.5), percentile(added, 0.99)
        out[proto] = {"transactions_sampled": len(added), "base_median_us": ref,
                      "added_ms_p1": percentile(added, 0.01), "added_ms_p50": p50,
                      "added_ms_p99": p99,
                      "ok": abs(p50 - CONFIGURED_MS) <= P50_GOAL_MS and abs(p99 - CONFIGURED_MS) <= P99_GOAL_MS}
    return out


def line_stats(trials: list[dict]) -> dict:
    lines = [t["delay_line"] for t in trials if t.get("delay_line")]
    if not lines:
        return {}
    return {"dropped": sum(l["dropped"] for l in lines),
            "release_error_us_p50": statistics.median(q["late_us_p50"] for l in lines
                                                      for q in l["queues"] if q["packets"]),
            "release_error_us_p99_worst": max(l["late_us_p99"] for l in lines),
            "cpu_s_per_trial": statistics.median(l["cpu_s"] for l in lines)}


def steady_bps(t: dict) -> float:
    """Goodput after the first STEADY_SKIP_S: what the path carries once
    slow start is over (at 100 ms RTT it takes about a second)."""
    step = t["interval_s"]
    rest = t["intervals_bytes"][round(STEADY_SKIP_S / step):-1]   # the last one is partial
    return sum(rest) * 8 / (len(rest) * step) if rest else 0.0


def bulk_verdict(doc: dict, scenario: str, steady: bool = False) -> dict:
    """TCP goodput against the link model: over the whole trial, and (the
    verdict when `steady`) after slow start."""
    trials = ok_trials(doc, scenario, "tcp")
    if not trials:
        return {"ok": False, "why": "no ok trial"}
    whole = [t["goodput_bps"] / t["expected_goodput_bps"] for t in trials]
    after = [steady_bps(t) / t["expected_goodput_bps"] for t in trials]
    ratios = after if steady else whole
    packets = [sum(q["packets"] for q in t["delay_line"]["queues"]) / t["duration_s"]
               for t in trials if t.get("delay_line")]
    return {"goodput_mbit_median": statistics.median(t["goodput_bps"] for t in trials) / 1e6,
            "of_model_median": statistics.median(whole), "of_model_min": min(whole),
            "steady_of_model_median": statistics.median(after), "steady_of_model_min": min(after),
            "trials": len(trials), "packets_per_s": statistics.median(packets) if packets else None,
            **line_stats(trials), "ok": statistics.median(ratios) >= BULK_GOAL}


PROBE_TRANSACTIONS, PROBE_GAP_S = 300, 0.01
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _kernel_rx(sock) -> tuple[bytes, object, int]:
    """recvmsg with the kernel's receive timestamp (ns, CLOCK_REALTIME)."""
    data, anc, _, addr = sock.recvmsg(64, 64)
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", raw[:16])
            return data, addr, sec * 1_000_000_000 + nsec
    raise RuntimeError("no SO_TIMESTAMPNS timestamp on a datagram")


def probe_network_rtt_ms(delay_ms: float, backend: str) -> list[float]:
    """1-byte UDP request/response through one 100 Mbit/s link delayed
    delay_ms each way, the network's share of each RTT: the client's send
    to the kernel's receive timestamp of the reply, less the server's own
    turnaround (its kernel receive timestamp to its send).  Receive
    timestamps come from the kernel, so a process waking from idle (ms on
    a virtual machine) stays out of the figure."""
    spec = TopologySpec(links=(LinkSpec(rate_up_mbit=100, rate_down_mbit=100, delay_ms=delay_ms),),
                        families=(4,), delay_backend=backend)
    with Topology(spec, f"mpb-probe{os.getpid()}") as topo:
        srv = netns.call_in(topo.ns("server"), socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        cli = netns.call_in(topo.ns("client"), socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        srv.bind((topo.server_address(4), 0))
        for s in (srv, cli):
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.settimeout(2.0)
        turnaround: list[int] = []

        def echo() -> None:
            try:
                for _ in range(PROBE_TRANSACTIONS):
                    data, addr, rx = _kernel_rx(srv)
                    tx = time.time_ns()
                    srv.sendto(data, addr)
                    turnaround.append(tx - rx)
            except TimeoutError:
                pass

        server = threading.Thread(target=echo)
        server.start()
        rtts = []
        for _ in range(PROBE_TRANSACTIONS):
            sent = time.time_ns()
            cli.sendto(b"x", srv.getsockname())
            _, _, rx = _kernel_rx(cli)
            rtts.append(rx - sent)
            time.sleep(PROBE_GAP_S)
        server.join()
        srv.close()
        cli.close()
    return [(r - t) / 1e6 for r, t in zip(rtts, turnaround)]


def probe_verdict(backend: str) -> dict:
    base = statistics.median(probe_network_rtt_ms(0, backend))
    added = [(r - base) / 2 for r in probe_network_rtt_ms(CONFIGURED_MS, backend)]
    p50, p99 = percentile(added, 0.5), percentile(added, 0.99)
    return {"transactions": len(added), "base_network_rtt_ms": base,
            "added_ms_p1": percentile(added, 0.01), "added_ms_p50": p50, "added_ms_p99": p99,
            "added_ms_max": max(added),
            "ok": abs(p50 - CONFIGURED_MS) <= P50_GOAL_MS and abs(p99 - CONFIGURED_MS) <= P99_GOAL_MS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--backend", default="host", choices=("host", "netem"))
    ap.add_argument("--rates", default="500,1000,2000,4000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--analyse-only", action="store_true")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r]
    fid, ceil = args.out / "fidelity", args.out / "ceiling"
    if not args.analyse_only:
        bench("--suite", "delay-fidelity", "--delay-backend", args.backend, "--out", str(fid))
        defs = args.out / "ceiling.toml"
        defs.write_text(ceiling_defs(rates, args.repeat))
        env = {**os.environ, delayline.CEILING_ENV: "1000000"}
        bench("--scenario-file", str(defs), "--suite", "ceiling", "--delay-backend", args.backend,
              "--out", str(ceil), env=env)
    probe = json.loads((args.out / "probe.json").read_text()) if args.analyse_only else \
        probe_verdict(args.backend)
    (args.out / "probe.json").write_text(json.dumps(probe))
    doc = results_format.load_results(fid / "latest" / "results.json")
    verdict = {"backend": args.backend, "probe": probe, "rr": rr_verdict(doc),
               "bulk": bulk_verdict(doc, "fidelity-bulk-10m-40ms"), "ceiling": {}}
    cdoc = results_format.load_results(ceil / "latest" / "results.json")
    for r in rates:
        verdict["ceiling"][r] = bulk_verdict(cdoc, f"ceiling-{r}", steady=True)
    passing = [r for r, v in verdict["ceiling"].items() if v["ok"] and not v.get("dropped")]
    verdict["ceiling_mbit"] = max(passing) if passing else None
    verdict["configured_ceiling_mbit"] = delayline.CEILING_MBIT
    verdict["ok"] = (probe["ok"] and verdict["bulk"]["ok"]
                     and (verdict["ceiling_mbit"] or 0) >= delayline.CEILING_MBIT)
    (args.out / "fidelity.json").write_text(json.dumps(verdict, indent=1))
    print(json.dumps(verdict, indent=1))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
