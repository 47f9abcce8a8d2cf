"""Fixtures of the root tier."""
import pytest
import rootns


@pytest.fixture
def root_ns_unchanged():
    """Fail the test if the root namespace's sysctls, links, addresses,
    routes, rules, qdiscs or firewall differ after it from before."""
    before = rootns.snapshot()
    yield
    rootns.assert_unchanged(before)
