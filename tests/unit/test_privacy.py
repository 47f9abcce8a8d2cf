"""What the server learned about the client, from its own socket's view."""
from bench.record.trial import server_learned
from bench.report import sections

SUBFLOWS = [{"remote": "198.18.0.1:43363"}, {"remote": "198.18.1.1:39449"},
            {"remote": "198.18.0.1:40000"}, {"remote": "[2001:2:0:1::1]:4242"}]


def test_distinct_client_addresses_and_the_counters():
    learned = server_learned(SUBFLOWS, {"MPTcpExtMPJoinSynRx": 2, "MPTcpExtAddAddr": 1})
    assert learned == {"client_addresses": ["198.18.0.1", "198.18.1.1", "2001:2:0:1::1"],
                       "add_addr_received": 1, "remove_addr_received": 0,
                       "joins_received": 2}


def test_the_report_line_counts_over_the_ok_mptcp_trials():
    trials = [{"scenario": "s", "driver": "native", "protocol": "mptcp", "status": "ok",
               "server_learned": server_learned(SUBFLOWS[:1], {"MPTcpExtMPJoinSynRx": 0})},
              {"scenario": "s", "driver": "native", "protocol": "mptcp", "status": "ok",
               "server_learned": server_learned(SUBFLOWS[:2], {"MPTcpExtMPJoinSynRx": 1})},
              {"scenario": "s", "driver": "native", "protocol": "mptcp", "status": "fallback",
               "server_learned": server_learned(SUBFLOWS[3:], {})}]
    (line,) = [x for x in sections.privacy(trials, "s", "native") if x]
    assert line == ("Privacy: over 2 MPTCP trial(s), the server learned 2 client address(es): "
                    "198.18.0.1, 198.18.1.1 (per trial at most 1 join(s) and 0 ADD_ADDR "
                    "received).")
    assert sections.privacy(trials, "s", "iperf3") == []
