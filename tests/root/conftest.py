"""Fixtures of the root tier."""
import os

import pytest
import rootns

# bench.run.quiet samples the machine 2 s before each run: 0.2 s here, for the
# tier's many runs (its own test asks for the real length).
os.environ.setdefault("MPTCP_BENCH_PREFLIGHT_S", "0.2")
# A shared machine disturbs most trials: the tier's runs are about other things
# (test_disturbed.py asks for the real limit with --disturbed-above).
os.environ.setdefault("MPTCP_BENCH_DISTURBED_ABOVE", "200")


@pytest.fixture
def root_ns_unchanged():
    """Fail the test if the root namespace's sysctls, links, addresses,
    routes, rules, qdiscs or firewall differ after it from before."""
    before = rootns.snapshot()
    yield
    rootns.assert_unchanged(before)
