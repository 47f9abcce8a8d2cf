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


def test_a_tcp_retry_is_the_answer_of_its_scenario():
    trials = [{"scenario": "n", "driver": "native", "protocol": "mptcp", "status": "fallback",
               "goodput_bps": 47.9e6,
               "tcp_retry": {"call": "socket", "errno": "ENOPROTOOPT", "lost_us": lost}}
              for lost in (60.0, 62.0, 90.0)]
    assert sections.tcp_retries(trials, "n", "native") == (
        "the client's MPTCP socket() failed with ENOPROTOOPT in 3 trial(s); retrying with TCP "
        "cost a median 62 µs, then carried 47.90 Mbit/s over TCP")
    assert sections.tcp_retries(trials, "other", "native") is None
