import ipaddress

import pytest

from harness.net import addressing

BENCH4 = ipaddress.ip_network("198.18.0.0/15")
BENCH6 = ipaddress.ip_network("2001:2::/48")


@pytest.mark.parametrize("family, net", [(4, BENCH4), (6, BENCH6)])
def test_every_address_is_in_the_benchmarking_ranges_and_unique(family, net):
    seen = set()
    for i in range(addressing.MAX_LINKS):
        for sub in (addressing.client_subnet(i, family), addressing.server_subnet(i, family)):
            for addr in (sub.host, sub.router):
                assert ipaddress.ip_address(addr) in net
                assert addr not in seen
                seen.add(addr)
            assert ipaddress.ip_network(sub.network).prefixlen == sub.prefixlen
    assert ipaddress.ip_network(addressing.server_aggregate(family)).subnet_of(net)


def test_server_subnets_fall_in_the_aggregate_and_client_ones_do_not():
    for family in (4, 6):
        agg = ipaddress.ip_network(addressing.server_aggregate(family))
        for i in range(addressing.MAX_LINKS):
            assert ipaddress.ip_network(addressing.server_subnet(i, family).network).subnet_of(agg)
            assert not ipaddress.ip_network(addressing.client_subnet(i, family).network).subnet_of(agg)


def test_link_index_and_family_are_checked():
    with pytest.raises(ValueError):
        addressing.client_subnet(8, 4)
    with pytest.raises(ValueError):
        addressing.server_subnet(0, 5)


def test_interface_names_fit_the_kernel_limit():
    for i in range(addressing.MAX_LINKS):
        assert all(len(n) < 16 for n in addressing.ifnames(i).values())


@pytest.mark.parametrize("address, link", [
    ("198.18.1.1:40000", 1), ("198.19.0.1", 0), ("[2001:2:0:103::1]:5201", 3),
    ("2001:2:0:207::1", 7), ("10.0.0.1:80", None), ("::1", None), ("not an address", None)])
def test_an_address_names_its_link_either_side_either_family(address, link):
    assert addressing.link_of(address) == link


@pytest.mark.parametrize("endpoint, host", [
    ("198.18.1.1:40000", "198.18.1.1"), ("198.19.0.1", "198.19.0.1"),
    ("[2001:2:0:103::1]:5201", "2001:2:0:103::1"), ("2001:2:0:103::1:40000", "2001:2:0:103::1")])
def test_an_endpoint_names_its_address_without_the_port(endpoint, host):
    assert addressing.host_of(endpoint) == host
