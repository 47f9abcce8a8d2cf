"""A server that enabled MPTCP, met by plain-TCP clients: the MPTCP
trial's client is TCP, its listener MPTCP, and everything on the wire TCP."""
from onetrial import on_own_topology


def test_tcp_clients_meet_an_mptcp_listener(catalog):
    s = catalog.scenario("listener-crr")
    tcp, mptcp = on_own_topology(s, ("tcp", "mptcp"), 1.0, "lis")
    for rec in (tcp, mptcp):
        assert rec["status"] == "ok", rec["reason"]
        assert rec["client_protocol"] == "tcp" and rec["mptcp_verified"] is None
        assert rec["transactions"] > 100
    assert (tcp["server_protocol"], mptcp["server_protocol"]) == ("tcp", "mptcp")
    # The MPTCP listener handed out plain TCP sockets, no MPTCP handshake took place.
    assert mptcp["mptcp"]["server"]["so_protocol"] == 6
    assert not any(v for k, v in mptcp["mib"]["server"].items() if k.startswith("MPTcpExtMPCapable"))
