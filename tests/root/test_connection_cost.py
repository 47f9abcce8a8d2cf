"""The cost of a connection and request/response over many connections,
between two namespaces on two links, TCP and MPTCP (the `scale` suite's
smoke test; `python -m bench run --suite scale` is the full run).

hold: every connection is accepted, held and counted: the namespaces gain
exactly one socket per connection (TCP) or one MPTCP socket and one TCP
socket per subflow (MPTCP, two subflows here), at each end, and the memory
figure is those sockets times the object sizes the kernel's slab reports.
rr: more connections than the latency loop once allowed (1024), each with
at least one transaction.  crr: concurrent clients, each completing
connections, every one answered by the server."""
import pytest
from onetrial import scenario_up

from bench.record import trial
from harness.measure import kmem
from harness.traffic import drivers, trialrun
from harness.traffic.site import LocalSite

TWO_LINKS = '[scenario.cost]\ndescription = "d"\nlinks = [{}, {}]\n'
HELD = 64
RR_FLOWS = 2000


@pytest.fixture(scope="module")
def two_links():
    with scenario_up(TWO_LINKS, "cost") as up:
        yield up


def _run(two_links, proto: str, **over) -> tuple[dict, dict]:
    scenario, topo = two_links
    params = drivers.TrialParams(**{**scenario.trial_params(proto, 0.5).as_dict(), **over})
    raw = trialrun.run_trial(drivers.get("native"), LocalSite(topo), params, ())
    return raw, trial.build(raw, scenario, proto, run_id="t", repeat=0, seq=0)


@pytest.mark.parametrize("proto", ("tcp", "mptcp"))
def test_held_connections_are_counted_socket_by_socket(two_links, proto):
    _, rec = _run(two_links, proto, workload="hold", flows=HELD)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["connections"] == HELD
    per_end = {"TCP": HELD} if proto == "tcp" else {"MPTCP": HELD, "TCP": 2 * HELD}
    assert rec["conn_memory"]["client"]["sockets"] == per_end
    assert rec["conn_memory"]["server"]["sockets"] == per_end
    with open("/proc/slabinfo") as f:
        size = {name: objsize for name, (_, objsize) in kmem.parse_slabinfo(f.read()).items()}
    assert rec["conn_mem_bytes"] == 2 * sum(size[p] * n for p, n in per_end.items()) / HELD
    assert rec["accept_per_s"] > 0 and rec["connect_per_s"] > 0
    assert rec["cpu_own_us_per_connection"] > 0
    if proto == "mptcp":
        assert rec["mptcp_connections"] == {"connections": HELD, "mp_capable": HELD,
                                            "joins": HELD, "joins_expected": HELD,
                                            "join_syns_sent": HELD, "join_syns_received": HELD}


@pytest.mark.parametrize("proto", ("tcp", "mptcp"))
def test_request_response_over_thousands_of_connections(two_links, proto):
    _, rec = _run(two_links, proto, workload="rr", flows=RR_FLOWS)
    # MPTCP: a join the path manager has not finished when the trial ends
    # makes it partial; every connection was still MPTCP.
    assert rec["status"] in (("ok",) if proto == "tcp" else ("ok", "partial")), rec["reason"]
    per_flow = rec["transactions_detail"]["client_per_flow"]
    assert len(per_flow) == RR_FLOWS and min(per_flow) >= 1
    assert sum(per_flow) == rec["transactions"]
    if proto == "mptcp":
        assert rec["mptcp_connections"]["mp_capable"] >= RR_FLOWS


@pytest.mark.parametrize("proto", ("tcp", "mptcp"))
def test_concurrent_crr_clients_each_complete_connections(two_links, proto):
    raw, rec = _run(two_links, proto, workload="crr", flows=16)
    assert rec["status"] == "ok", rec["reason"]
    per_client = rec["transactions_detail"]["client_per_flow"]
    assert len(per_client) == 16 and min(per_client) >= 1
    # every connection the clients completed was answered by the server
    # (and the goodbye connection besides), each of the trial's protocol
    assert rec["transactions_detail"]["server"] == rec["transactions"]
    accepted = raw["receiver"]["info"]["accepted_protocols"]
    assert accepted[proto] == rec["transactions"] + 1 and accepted["other"] == 0
