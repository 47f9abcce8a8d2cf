"""What an MPTCP connection tells the server about the client: the
addresses its subflows come from, and nothing it does not announce."""
from onetrial import on_own_topology

from bench.catalog import Catalog
from harness.net import addressing


def test_an_unannounced_client_address_never_reaches_the_server(catalog):
    s = catalog.scenario("privacy-unannounced")
    (rec,) = on_own_topology(s, ("mptcp",), 1.0, "priv")
    assert rec["status"] == "ok", rec["reason"]
    first = addressing.client_subnet(0, 4).host
    second = addressing.client_subnet(1, 4).host
    assert rec["server_learned"]["client_addresses"] == [first]
    assert second not in str(rec["subflow_detail_server"])
    assert rec["server_learned"]["add_addr_received"] == 0


def test_both_client_addresses_reach_the_server_when_both_carry_subflows():
    s = Catalog().scenario("aggregate-2x")
    (rec,) = on_own_topology(s, ("mptcp",), 1.5, "priv2")
    assert rec["status"] == "ok", rec["reason"]
    assert rec["server_learned"]["client_addresses"] == sorted(
        addressing.client_subnet(i, 4).host for i in (0, 1))
    assert rec["server_learned"]["joins_received"] >= 1
