"""Bulk over 1 to 1024 connections between two namespaces, TCP and MPTCP:
one connection runs its own loop, several the event loop (evloop.c), and
either way every connection moves bytes, the connections add up to the
trial, and the receiver got every byte the sender sent.  The link is
shaped (200 Mbit/s) so that MPTCP on one path does not stall.

Whatever the senders have buffered when the 1 s ends must still cross that
link, and 1024 connections buffer a lot: unbounded, over 100 MB, which took
more than the workers' 10 s idle timeout, tail drops in a 25 ms queue
slowing the drain further.  So the namespaces cap each connection's send
buffer (32 KiB) and unsent bytes (16 KiB), and the queue holds 200 ms."""
import errno
import resource

import pytest
from onetrial import scenario_up

from bench.record import trial
from harness.traffic import drivers, engine, trialrun
from harness.traffic.site import LocalSite
from harness.traffic.workloads import bulk, common

SHAPED = ('[scenario.many]\ndescription = "d"\nlinks = [{ rate_mbit = 200, queue_ms = 200 }]\n'
          'sysctls = { "net.ipv4.tcp_wmem" = "4096 16384 32768", '
          '"net.ipv4.tcp_notsent_lowat" = 16384 }\n')
FLOWS = (1, 4, 64, 1024)


@pytest.fixture(scope="module")
def shaped():
    with scenario_up(SHAPED, "many") as up:
        yield up


def per_connection(end: dict) -> list[int]:
    return [f["bytes"] for f in end["flows"]] if "flows" in end else [end["loop"]["bytes"]]


@pytest.mark.parametrize("proto", ("tcp", "mptcp"))
@pytest.mark.parametrize("flows", FLOWS)
def test_every_connection_moves_bytes_and_they_add_up(shaped, proto, flows):
    scenario, topo = shaped
    params = drivers.TrialParams(**{**scenario.trial_params(proto, 1.0).as_dict(),
                                    "flows": flows, "verify": True})
    raw = trialrun.run_trial(drivers.get("native"), LocalSite(topo), params, ())
    rec = trial.build(raw, scenario, proto, run_id="t", repeat=0, seq=0)
    assert rec["status"] == "ok", rec["reason"]
    snd, rcv = raw["sender"], raw["receiver"]
    kind = "single" if flows == 1 else "evloop"
    assert {e["kind"] for e in rec["engine_loop"].values()} == {kind}
    sent = per_connection(snd)
    assert len(sent) == flows and min(sent) > 0
    assert per_connection(rcv) == sent
    assert sum(sent) == snd["loop"]["bytes"] == rcv["loop"]["bytes"] == rec["bytes"]
    assert sum(rec["intervals_bytes"]) == rec["bytes"]
    v = rec["verify"]
    assert v["mismatches"] == 0 and v["missing_bytes"] == 0 and v["checked_bytes"] == rec["bytes"]


def test_thread_per_connection_is_a_stated_choice():
    cfg = {"send_mode": "splice", "recv_mode": "splice", "corrupt_at": -1}
    assert bulk.engine_loop(cfg, "send", 1)["kind"] == "single"
    choice = bulk.engine_loop(cfg, "send", 8)
    assert choice["kind"] == "thread-per-connection" and "send mode splice" in choice["reason"]
    cfg = {"send_mode": "send", "recv_mode": "trunc", "corrupt_at": -1}
    assert bulk.engine_loop(cfg, "recv", 8)["kind"] == "evloop"


def test_a_connection_count_beyond_the_hard_fd_limit_is_refused_in_one_sentence():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on file descriptors here")
    with pytest.raises(engine.EngineError) as exc:
        common.fd_room(hard)
    assert exc.value.unsupported and exc.value.errno == errno.EMFILE
    assert str(exc.value) == (f"{hard} connections need {hard + common.FD_MARGIN} file "
                              f"descriptors and the worker's hard limit (RLIMIT_NOFILE) is {hard}")
