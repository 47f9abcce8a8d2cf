"""Capture raw driver results of the engine's workloads and modes (1 s
each) and per-transaction latencies of an RR run, for the unit tests
(tests/data/raw-engine-trials.json, tests/data/rr-latency-ns.json).

    sudo .venv/bin/python tests/tools/capture_engine_trials.py tests/data/
"""
import json
import os
import platform
import sys

from harness.measure import latency
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology
from harness.traffic import drivers, engine, trialrun
from harness.traffic.site import LocalSite

# name -> (links, TrialParams overrides)
CASES = {
    "rr-tcp": (1, dict(protocol="tcp", workload="rr", flows=2)),
    "rr-mptcp": (1, dict(protocol="mptcp", workload="rr", flows=2)),
    "crr-tcp": (1, dict(protocol="tcp", workload="crr")),
    "crr-mptcp": (1, dict(protocol="mptcp", workload="crr")),
    "zerocopy-tcp": (1, dict(protocol="tcp", send_mode="zerocopy")),
    "zerocopy-mptcp": (1, dict(protocol="mptcp", send_mode="zerocopy")),
    "trunc-mptcp": (1, dict(protocol="mptcp", recv_mode="trunc")),
    "verify-corrupt-tcp": (1, dict(protocol="tcp", verify=True, extra={"corrupt_at": 4096})),
    "rr_under_load-tcp": (50, dict(protocol="tcp", workload="rr_under_load", duration_s=2.0)),
}


def spec(rate: int) -> TopologySpec:
    link = LinkSpec(rate_up_mbit=rate, rate_down_mbit=rate) if rate > 1 else LinkSpec()
    return TopologySpec(links=(link,), endpoints=())


def main(outdir: str) -> None:
    driver = drivers.get("native")
    out = {"kernel": platform.release()}
    for rate in sorted({r for r, _ in CASES.values()}):
        with Topology(spec(rate), prefix=f"mpb-capture{os.getpid()}r{rate}") as topo:
            for name, (r, over) in CASES.items():
                if r == rate:
                    params = drivers.TrialParams(**{"duration_s": 1.0, "cpu_sender": 0,
                                                    "cpu_receiver": 1, **over})
                    out[name] = trialrun.run_trial(driver, LocalSite(topo), params)
    with open(os.path.join(outdir, "raw-engine-trials.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    capture_latency(outdir)


def capture_latency(outdir: str) -> None:
    """Every latency of a 1 s, 1-flow TCP RR run over loopback in one
    namespace, as the C loop returned them (ns)."""
    import socket
    import threading
    with Topology(spec(1), prefix=f"mpb-capture{os.getpid()}lat") as topo:
        from harness.host import netns
        lsock = netns.call_in(topo.ns("server"), engine.open_socket, "tcp", 4)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        csock = netns.call_in(topo.ns("server"), engine.open_socket, "tcp", 4)
        csock.connect(lsock.getsockname())
        conn, _ = lsock.accept()
        for s in (csock, conn):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server = threading.Thread(target=engine.rr_server, args=([conn],),
                                  kwargs=dict(request=1, response=1))
        server.start()
        result = engine.rr_client([csock], request=1, response=1, duration_s=1.0)
        csock.close()
        server.join()
        conn.close()
        lsock.close()
    samples = latency.as_array(result["latency_ns"]).tolist()
    with open(os.path.join(outdir, "rr-latency-ns.json"), "w") as f:
        json.dump({"kernel": platform.release(), "latency_ns": samples[:5000]}, f)


if __name__ == "__main__":
    main(sys.argv[1])
