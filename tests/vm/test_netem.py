"""The netem lane: tests that need delay, run in a VM booted from Debian's
kernel (`make test-vm`, part of `make test`).  The guest's CPU is emulated,
so timing checks stay loose; what is checked is behaviour."""
import json
import os
import socket
import threading
import time

from benchcli import bench
from netprobe import tcp_rtts_ms

from harness.host import netns
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology


def _pair(topo, proto=socket.SOCK_STREAM):
    server = netns.call_in(topo.ns("server"), socket.socket, socket.AF_INET, proto)
    server.bind((topo.server_address(4), 0))
    client = netns.call_in(topo.ns("client"), socket.socket, socket.AF_INET, proto)
    client.bind((topo.client_address(4), 0))
    return server, client


def test_delay_is_applied_in_both_directions():
    spec = TopologySpec(links=(LinkSpec(rate_up_mbit=50, rate_down_mbit=50, delay_ms=20),),
                        families=(4,), delay_backend="netem")
    with Topology(spec, f"mpb-vm{os.getpid()}delay") as topo:
        qdiscs = topo.read_back()["qdiscs"]
        assert {q["kind"] for q in qdiscs["rs0"]} == {"tbf", "netem"}
        rtts = tcp_rtts_ms(topo, 10)
    # 20 ms each way; the emulated CPU adds a few ms at most to the best sample.
    assert 39 <= min(rtts) <= 50, rtts


def test_loss_is_applied():
    spec = TopologySpec(links=(LinkSpec(loss_up_pct=10),), families=(4,))
    with Topology(spec, f"mpb-vm{os.getpid()}loss") as topo:
        server, client = _pair(topo, socket.SOCK_DGRAM)
        server.settimeout(2)
        got = []
        reader = threading.Thread(target=lambda: _count(server, got))
        reader.start()
        for i in range(2000):
            client.sendto(b"x" * 64, server.getsockname())
            if i % 50 == 0:
                time.sleep(0.01)   # never overflow the receiver: only the link may drop
        reader.join()
        client.close()
        server.close()
    # 10 % loss: 1800 expected, +-3 standard deviations (binomial) is +-40.
    assert 1760 <= got[0] <= 1840, got


def _count(sock, out):
    n = 0
    try:
        while True:
            sock.recv(100)
            n += 1
    except (TimeoutError, socket.timeout):
        out.append(n)


def test_the_heterogeneous_scenario_runs_and_classifies_its_trials(tmp_path):
    proc = bench("run", "--scenario", "heterogeneous", "--repeat", "1", "--warmup", "0",
                 "--duration", "3", "--out", tmp_path, timeout=900)
    doc = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert doc["metadata"]["lane"]["kind"] == "vm"
    qdiscs = doc["scenarios"]["heterogeneous"]["readback"]["qdiscs"]
    assert "netem" in {q["kind"] for q in qdiscs["rs1"]}
    trials = doc["trials"]
    assert [t["protocol"] for t in trials] == ["tcp", "mptcp"]
    tcp, mptcp = trials
    # Nothing on these paths strips MPTCP: a fallback or a missing subflow is
    # a defect.  A stall is the kernel's known mood, classified, and the
    # scenario's default expectation (ok or stalled) keeps the exit at 0.
    assert tcp["status"] == "ok", tcp["reason"]
    assert mptcp["status"] in ("ok", "stalled"), (mptcp["status"], mptcp["reason"])
    assert proc.returncode == 0, proc.stderr
    assert mptcp["mptcp_verified"] is True, mptcp["reason"]
    if mptcp["status"] == "ok":
        assert mptcp["subflows"] == 2, mptcp["subflows"]      # both paths joined
    assert mptcp["goodput_bps"] > 0
