"""A client without MPTCP meets an MPTCP server: the engine's client
retries with TCP and says what it cost; mptcpize does not retry."""
from onetrial import on_own_topology, one, prefix

from harness.net.topology import Topology


def test_the_engine_retries_with_tcp_and_records_the_error(catalog):
    s = catalog.scenario("no-mptcp-client")
    tcp, mptcp = on_own_topology(s, ("tcp", "mptcp"), 1.0, "nomp")
    assert tcp["status"] == "ok" and "tcp_retry" not in tcp
    assert mptcp["status"] == "fallback"
    assert mptcp["tcp_retry"]["errno"] == "ENOPROTOOPT"
    assert mptcp["tcp_retry"]["call"].endswith("IPPROTO_MPTCP)")
    assert 0 < mptcp["tcp_retry"]["lost_us"] < 1_000_000
    assert mptcp["reason"].startswith("the client's socket(")
    assert mptcp["goodput_bps"] > 0.8 * 50e6           # the retried TCP carried the data


def test_mptcpize_leaves_an_unmodified_application_failing(catalog):
    s = catalog.scenario("no-mptcp-client")
    with Topology(s.topology(), prefix("nompi")) as topo:
        rec = one(topo, s, "mptcp", 1.0, driver="iperf3")
    assert rec["status"] == "failed"
    assert "Protocol not available" in rec["reason"]
