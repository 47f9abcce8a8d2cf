"""The engine's modes and workloads on real namespace pairs, through the
driver and the record builder: every mode x protocol works or reports the
expected `unsupported`, data verification catches a damaged byte, latency
workloads count and order what they measure, and MPTCP's per-subflow
figures add up."""
import onetrial
import pytest

from bench.catalog import Catalog
from harness.net.topology import Topology
from harness.traffic import engine

PROTOCOLS = ("tcp", "mptcp")
# What this kernel (6.18, KERNEL_NOTES) refuses, and how the engine names it.
REFUSED = {("mptcp", "zerocopy"): "setsockopt(SO_ZEROCOPY): EOPNOTSUPP",
           ("mptcp", "io_uring_zc"): "io_uring SEND_ZC completion: EOPNOTSUPP"}
if not engine.LIBURING:
    REFUSED.update({(p, m): "built without liburing" for p in PROTOCOLS
                    for m in ("io_uring", "io_uring_zc")})


def _topology(catalog, name: str, tag: str):
    s = catalog.scenario(name)
    with Topology(s.topology(), onetrial.prefix(tag)) as topo:
        yield s, topo


@pytest.fixture(scope="module")
def one_link(catalog):
    yield from _topology(catalog, "single-link", "eng1")


@pytest.fixture(scope="module")
def two_links(catalog):
    yield from _topology(catalog, "aggregate-2x", "eng2")


def run(where, proto, duration=1.0, scenario=None, **override):
    s, topo = where
    return onetrial.one(topo, scenario or s, proto, duration, **override)


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("mode", engine.SEND_MODES)
def test_every_send_mode_delivers_intact_data_or_is_refused_by_name(one_link, proto, mode):
    rec = run(one_link, proto, send_mode=mode, verify=True)
    support = rec["mode_support"]["send"]
    assert support["mode"] == mode
    if (proto, mode) in REFUSED:
        assert rec["status"] == "unsupported", rec["reason"]
        assert support == {"mode": mode, "status": "unsupported",
                           "reason": REFUSED[proto, mode]}
        return
    assert rec["status"] == "ok", rec["reason"]
    assert support["status"] == "works"
    v = rec["verify"]
    assert v["mismatches"] == 0 and v["missing_bytes"] == 0 and v["checked_bytes"] == rec["bytes"] > 0
    if mode in engine.ZERO_COPY_MODES:
        assert support["zc_requests"] == support["zc_completions"] > 0


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("mode", engine.RECV_MODES)
def test_every_receive_mode_works_on_both_protocols(one_link, proto, mode):
    rec = run(one_link, proto, recv_mode=mode)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["mode_support"]["recv"] == {"mode": mode, "status": "works", "reason": None}
    assert rec["bytes"] == rec["sender_send_bytes"] > 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_receive_low_water_mark_batches_the_receivers_calls_and_loses_nothing(one_link, proto):
    """SO_RCVLOWAT of 1 MiB: each receive call asks for 1 MiB and the kernel
    wakes the receiver for no less (but at the end), where the default
    receiver gets at most its 128 KiB buffer per call.  Verification reads
    the sender's 128 KiB pattern across the larger reads."""
    plain = run(one_link, proto, recv_mode="trunc")
    batched = run(one_link, proto, recv_lowat=1 << 20, verify=True)
    assert batched["status"] == "ok", batched["reason"]
    assert (batched["recv_lowat_kib"], plain["recv_lowat_kib"]) == (1024, 0)
    v = batched["verify"]
    assert v["mismatches"] == 0 and v["missing_bytes"] == 0 and v["checked_bytes"] == batched["bytes"] > 0
    assert plain["bytes"] / plain["calls"]["recv"] <= 128 * 1024
    assert batched["bytes"] / batched["calls"]["recv"] > 128 * 1024


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_an_unsent_data_low_water_mark_is_taken_and_loses_nothing(one_link, proto):
    """TCP_NOTSENT_LOWAT of 128 KiB on the sender (MPTCP takes it on the
    connection's socket): accepted, recorded, every byte verified."""
    rec = run(one_link, proto, notsent_lowat=128 << 10, verify=True)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["notsent_lowat_kib"] == 128
    v = rec["verify"]
    assert v["mismatches"] == 0 and v["missing_bytes"] == 0 and v["checked_bytes"] == rec["bytes"] > 0


@pytest.mark.parametrize("mode", engine.ZERO_COPY_MODES)
def test_zero_copy_over_veth_reports_copied_completions(one_link, mode):
    if ("tcp", mode) in REFUSED:
        pytest.skip(f"{mode}: {REFUSED['tcp', mode]}")
    support = run(one_link, "tcp", send_mode=mode)["mode_support"]["send"]
    # Delivered locally, the kernel copies the pages after all: it must say so.
    assert 0 < support["zc_copied"] <= support["zc_completions"] == support["zc_requests"]


def _optmem(write_defs, optmem: int):
    """A one-link topology whose namespaces have `optmem` bytes of option
    memory per socket, where zero-copy notifications are charged."""
    cat = Catalog([write_defs('[scenario.tight]\ndescription = "d"\nlinks = [{}]\n'
                              f'sysctls = {{ "net.core.optmem_max" = {optmem} }}\n')])
    s = cat.scenario("tight")
    return s, Topology(s.topology(), onetrial.prefix(f"optmem{optmem}"))


def test_zerocopy_waits_for_completions_when_the_kernel_refuses_with_enobufs(write_defs):
    """With 1 KiB of option memory one zero-copy notification fits (an
    empty skb's truesize, about 768 bytes on 64-bit kernels) and a second
    does not: every send made while one is outstanding fails with ENOBUFS
    until completions are reaped, and nothing is lost or counted twice.
    (At 4 KiB the refusals come or not with timing, a few per second.)"""
    s, topology = _optmem(write_defs, 1024)
    with topology as topo:
        rec = run((s, topo), "tcp", send_mode="zerocopy", verify=True)
    assert rec["status"] == "ok", rec["reason"]
    zc = rec["mode_support"]["send"]
    assert zc["zc_enobufs"] > 0
    assert zc["zc_requests"] == zc["zc_completions"] > 0
    assert rec["verify"]["mismatches"] == 0 and rec["verify"]["missing_bytes"] == 0


def test_zerocopy_without_room_for_one_notification_is_unsupported_not_a_hang(write_defs):
    """ENOBUFS with no notification of ours outstanding never clears:
    the mode is refused with the reason, instead of waiting forever."""
    s, topology = _optmem(write_defs, 512)
    with topology as topo:
        rec = run((s, topo), "tcp", send_mode="zerocopy")
    assert rec["status"] == "unsupported", rec["reason"]
    assert rec["mode_support"]["send"]["reason"] == (
        "net.core.optmem_max leaves no room for one zero-copy notification")
    assert (rec["error"]["call"], rec["error"]["errno"]) == ("send(MSG_ZEROCOPY)", "ENOBUFS")


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_verification_catches_one_corrupted_byte(one_link, proto):
    rec = run(one_link, proto, verify=True, extra={"corrupt_at": 123_457})
    assert rec["status"] == "failed"
    v = rec["verify"]
    assert (v["mismatches"], v["first_bad_offset"], v["missing_bytes"]) == (1, 123_457, 0)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_rr_percentiles_are_ordered_and_transactions_add_up(two_links, catalog, proto):
    rec = run(two_links, proto, scenario=catalog.scenario("rr-2links"), flows=3)
    assert rec["status"] == "ok", rec["reason"]
    lat = [rec[f"latency_us_{k}"] for k in ("p50", "p90", "p99", "p999", "max")]
    assert lat == sorted(lat) and lat[0] > 0
    d = rec["transactions_detail"]
    assert len(d["client_per_flow"]) == 3 and min(d["client_per_flow"]) > 0
    assert rec["transactions"] == sum(d["client_per_flow"]) == d["server"] == sum(d["server_per_flow"])
    assert d["client_per_flow"] == d["server_per_flow"]
    assert rec["goodput_bps"] is None and rec["cpu_system_us_per_transaction"] > 0
    if proto == "mptcp":
        assert rec["mptcp_verified"] and rec["subflows"] == 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_crr_makes_one_real_connection_per_transaction(one_link, catalog, proto):
    rec = run(one_link, proto, scenario=catalog.scenario("crr"))
    assert rec["status"] == "ok", rec["reason"]
    n = rec["transactions"]
    assert n > 10 and rec["transactions_detail"]["server"] == n
    # ... plus the connection that tells the server to stop.
    opened = rec["mib"]["client"]["MPTcpExtMPCapableSYNTX" if proto == "mptcp" else "TcpActiveOpens"]
    assert opened == n + 1
    accepted = rec["mptcp"]["server"]["accepted_protocols"]
    assert accepted[proto] == n + 1 and sum(accepted.values()) == n + 1


def test_rr_under_load_sees_the_queue(catalog):
    s = catalog.scenario("rr-under-load")
    with Topology(s.topology(), onetrial.prefix("rul")) as topo:
        rec = run((s, topo), "tcp", duration=2.0)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["latency_us_p50"] > rec["latency_unloaded"]["latency_us_p50"]
    assert 0.7 * 50e6 < rec["load"]["goodput_bps"] <= 50e6


def test_full_info_subflow_bytes_add_up_on_both_ends(two_links):
    rec = run(two_links, "mptcp", duration=2.0)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["subflows"] == 2 and len(rec["subflow_detail_server"]) == 2
    client = rec["mptcp"]["client"]["mptcp_info"]
    acked = sum(sf["bytes_acked"] - 1 for sf in rec["subflow_detail"])   # -1: each SYN
    assert acked == pytest.approx(client["bytes_acked"] + client["bytes_retrans"], rel=0.01)
    assert client["bytes_acked"] == pytest.approx(rec["bytes"], rel=0.01)
    server = rec["mptcp"]["server"]["mptcp_info"]
    received = sum(sf["bytes_received"] for sf in rec["subflow_detail_server"])
    assert received == pytest.approx(server["bytes_received"], rel=0.01)
    assert server["bytes_received"] == pytest.approx(rec["bytes"], rel=0.01)
    assert all(sf["bytes_received"] > 0.2 * rec["bytes"] for sf in rec["subflow_detail_server"])


def test_introspection_without_full_info_sees_the_same_subflows(two_links):
    """Kernels before 6.9 lack MPTCP_FULL_INFO: MPTCP_TCPINFO plus
    MPTCP_SUBFLOW_ADDRS must describe a live connection the same way."""
    import socket
    import threading
    import time

    from harness.host import netns
    s, topo = two_links
    lsock = netns.call_in(topo.ns("server"), engine.open_socket, "mptcp", 4)
    csock = netns.call_in(topo.ns("client"), engine.open_socket, "mptcp", 4)
    with lsock, csock:
        lsock.bind((topo.server_address(4), 0))
        lsock.listen(4)
        csock.bind((topo.client_address(4), 0))
        accepted = {}
        t = threading.Thread(target=lambda: accepted.update(conn=lsock.accept()[0]))
        t.start()
        csock.connect(lsock.getsockname())
        t.join()
        with accepted["conn"] as conn:
            deadline = time.monotonic() + 5
            while engine.subflows(csock.fileno())["num_subflows"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)   # the path manager joins the second link
            csock.sendall(b"x" * 100_000)
            got = 0
            while got < 100_000:
                got += len(conn.recv(65536))
            while engine.introspect(csock)["mptcp_info"]["bytes_acked"] < 100_000:
                time.sleep(0.01)   # every ACK in: the two reads see the same counts
            full = engine.subflows(csock.fileno())
            pair = engine.subflows(csock.fileno(), full_info=False)
            csock.shutdown(socket.SHUT_WR)
    assert full["source"] == "MPTCP_FULL_INFO" and full["num_subflows"] == 2
    assert pair["source"] == "MPTCP_TCPINFO+MPTCP_SUBFLOW_ADDRS"
    key = lambda sf: (sf["local"], sf["remote"], sf["bytes_acked"])   # noqa: E731
    assert sorted(map(key, pair["subflows"])) == sorted(map(key, full["subflows"]))
