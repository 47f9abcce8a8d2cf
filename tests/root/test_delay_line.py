"""The host delay line on real namespaces: the delay it adds, jitter with and
without reordering, a distribution, its counters, and that nothing is left
(docs/delay.md).  Precision is the fidelity benchmark's (tests/perf); these
check behaviour with loose bounds."""
import socket
import statistics
import threading
import time

import installed
import pytest
from clirun import bench
from netprobe import tcp_rtts_ms
from onetrial import prefix

from harness.host import netns
from harness.net import capabilities, delayline
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology


@pytest.fixture(autouse=True)
def _delay_line_built():
    built, why = delayline.available()
    installed.require(built, why)


def _spec(**link) -> TopologySpec:
    return TopologySpec(links=(LinkSpec(rate_up_mbit=100, rate_down_mbit=100, **link),),
                        families=(4,), delay_backend="host")


def test_a_delayed_link_adds_its_delay_each_way_and_leaves_nothing():
    with Topology(_spec(delay_ms=20), prefix("dl")) as topo:
        assert topo.delay_backend == "host"
        pid = topo.delay_line.worker.proc.pid
        before = topo.delay_stats()
        rtts = tcp_rtts_ms(topo, 30)
        stats = delayline.summary(before, topo.delay_stats(), topo.delay_line.queues)
        names = topo.namespaces()
        rules = netns.run(topo.ns("router"), ["iptables-save", "-t", "mangle"])
    # Two 20 ms delays: never less (a release is early by microseconds at
    # most), and each packet delayed once, not twice: the fastest round trip
    # is under four delays.  How late releases are is the line's own count
    # (late_us_p50 below), not a wall-clock ceiling on a loaded machine.
    delay_ms = 20
    assert min(rtts) >= 2 * delay_ms - 0.2 and min(rtts) < 4 * delay_ms, rtts
    assert "-A POSTROUTING -o rs0 -j NFQUEUE --queue-num 0" in rules
    assert "-A POSTROUTING -o rc0 -j NFQUEUE --queue-num 1" in rules
    up, down = stats["queues"]
    assert up["packets"] >= 30 and down["packets"] >= 30
    assert stats["dropped"] == 0 and stats["overruns"] == 0
    assert abs(up["late_us_p50"]) < 1000
    assert not any(netns.exists(n) for n in names)
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


def _one_way_ms(topo, count: int, gap_s: float) -> list[tuple[int, float]]:
    """(sequence number, one-way delay) of UDP datagrams in arrival order;
    both namespaces share this machine's monotonic clock."""
    rx = netns.call_in(topo.ns("server"), socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((topo.server_address(4), 0))
    rx.settimeout(1.0)
    tx = netns.call_in(topo.ns("client"), socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    got: list[tuple[int, float]] = []

    def receive() -> None:
        try:
            while len(got) < count:
                data = rx.recv(64)
                seq, sent = data.decode().split()
                got.append((int(seq), (time.monotonic() - float(sent)) * 1000))
        except TimeoutError:
            pass

    reader = threading.Thread(target=receive)
    reader.start()
    for i in range(count):
        tx.sendto(f"{i} {time.monotonic()!r}".encode(), rx.getsockname())
        time.sleep(gap_s)
    reader.join()
    rx.close()
    tx.close()
    return got


def _inversions(seqs: list[int]) -> int:
    return sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)


@pytest.mark.parametrize("reorder", [False, True])
def test_jitter_keeps_packet_order_unless_reordering_is_asked(reorder):
    with Topology(_spec(delay_ms=10, jitter_ms=5, reorder=reorder), prefix(f"jit{int(reorder)}")) as topo:
        got = _one_way_ms(topo, 400, 0.0005)
    assert len(got) == 400
    delays = [d for _, d in got]
    # uniform in 10 ± 5 ms (order kept: a packet may wait for the one ahead):
    # never under 5 ms, and the middle of the distribution inside the window
    # (a single datagram late on a loaded machine says nothing of the line).
    delay, jitter = 10, 5
    assert min(delays) >= delay - jitter - 0.1, min(delays)
    assert delay - jitter < statistics.median(delays) < delay + jitter, statistics.median(delays)
    assert statistics.pstdev(delays) > 1.0
    inversions = _inversions([s for s, _ in got])
    assert (inversions > 20) if reorder else (inversions == 0), inversions


def test_a_distribution_table_shapes_the_jitter():
    with Topology(_spec(delay_ms=30, jitter_ms=4, reorder=True, distribution="normal"),
                  prefix("dist")) as topo:
        delays = [d for _, d in _one_way_ms(topo, 600, 0.002)]
    # normal, mean 30 ms, sigma 4 ms: 600 samples put the sample's mean within
    # ±0.5 ms and its sigma within ±20 % with room to spare.
    assert abs(statistics.mean(delays) - 30) < 1.0, statistics.mean(delays)
    assert 3.0 < statistics.pstdev(delays) < 5.0, statistics.pstdev(delays)


def test_a_run_records_the_backend_and_what_the_line_did(tmp_path, write_defs):
    defs = write_defs('[scenario.delayed]\ndescription = "d"\n'
                      'links = [{ rate_mbit = 20, delay_ms = 10 }, { rate_mbit = 10, delay_ms = 30 }]\n')
    out = tmp_path / "reports"
    proc = bench("run", "--scenario-file", defs, "--scenario", "delayed", "--repeat", 1,
                 "--warmup", 0, "--duration", 2, "--delay-backend", "host", "--out", out)
    assert proc.returncode == 0, proc.stderr
    from bench import results_format
    doc = results_format.load_results(out / "latest" / "results.json")
    assert doc["scenarios"]["delayed"]["delay_backend"] == "host"
    for t in doc["trials"]:
        assert t["delay_backend"] == "host" and t["status"] == "ok", t["reason"]
        line = t["delay_line"]
        assert [(q["link"], q["direction"]) for q in line["queues"]] == [
            (0, "up"), (0, "down"), (1, "up"), (1, "down")]
        assert line["queues"][0]["packets"] > 100 and line["dropped"] == 0
    mptcp = next(t for t in doc["trials"] if t["protocol"] == "mptcp")
    assert mptcp["delay_line"]["queues"][2]["packets"] > 0     # the second path carried data
    report = (out / "latest" / "report.md").read_text()
    assert "#### Paths" in report and "Delay from the host delay line" in report


@pytest.mark.parametrize("link, says", [
    ("{ rate_mbit = 5000, delay_ms = 10 }", "the host delay line carries at most"),
    ("{ delay_ms = 10 }", "delayed with no rate up"),
])
def test_a_link_beyond_the_delay_line_is_refused_with_exit_2(tmp_path, write_defs, link, says):
    defs = write_defs(f'[scenario.fast]\ndescription = "d"\nlinks = [{link}]\n')
    proc = bench("run", "--scenario-file", defs, "--scenario", "fast", "--delay-backend", "host",
                 "--out", tmp_path / "reports")
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_auto_uses_netem_where_the_kernel_has_it_else_the_line():
    checks = capabilities.probe()
    assert capabilities.delay_backend("auto", checks) == ("netem" if checks["netem"].ok else "host")
