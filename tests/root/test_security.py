"""The security suite's attacks on real topologies: the attacker's
namespace is built and removed with the topology, and each attack ends in
the verdict its scenario expects, on the kernel's own counters."""
import onetrial
import pytest

from harness.host import netns


def _attacked(catalog, name, protos):
    scenario = catalog.scenario(name)
    recs = onetrial.on_own_topology(scenario, protos, scenario.workload.duration_s, name[-12:])
    assert not [n for n in netns.list_names() if n.startswith(onetrial.prefix(name[-12:]))]
    return scenario, recs


@pytest.mark.parametrize("name", ["attack-join-wrong-token", "attack-join-wrong-hmac",
                                  "attack-add-addr-stolen-keys"])
def test_an_mptcp_attack_ends_as_its_scenario_expects(catalog, name):
    scenario, (rec,) = _attacked(catalog, name, ["mptcp"])
    attack = rec["attack"]
    assert attack["verdict"] == attack["expected"] == scenario.expect.attack["mptcp"], attack["why"]
    assert attack["attacker"]["sent"] >= 1
    # These attacks leave the transfer whole: every byte the application got
    # was the sender's.
    assert rec["status"] == "ok" and rec["verify"]["mismatches"] == 0


def test_a_wrong_hmac_is_refused_where_the_token_was_right(catalog):
    _, (rec,) = _attacked(catalog, "attack-join-wrong-hmac", ["mptcp"])
    ev = rec["attack"]["evidence"]
    # The token came from the key the attacker saw: the server answered with
    # its own HMAC (which the stolen keys reproduce), then refused the third ACK.
    assert ev["attacker.synack"] == "synack_join" and ev["attacker.server_hmac_checks"] is True
    assert ev["server.MPTcpExtMPJoinAckHMacFailure"] == 1


def test_an_exact_rst_kills_tcp_and_costs_mptcp_one_subflow(catalog):
    _, recs = _attacked(catalog, "attack-rst-exact", ["tcp", "mptcp"])
    tcp, mptcp = recs
    assert tcp["status"] == "failed" and tcp["attack"]["verdict"] == "accepted"
    assert mptcp["attack"]["verdict"] == "accepted"
    assert mptcp["status"] != "failed"
    # MPTCP kept delivering over the other link after the attack.
    assert mptcp["attack"]["rate_after"] > 0 and mptcp["attack"]["rate_unit"] == "bit/s"
