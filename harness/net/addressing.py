"""The address plan of a topology: pure functions, no system access.

Link i is a disjoint path client:c{i} -- rc{i}:router:rs{i} -- s{i}:server.
Addresses come from the benchmarking ranges (RFC 2544 198.18.0.0/15 and
RFC 5180 2001:2::/48): the client side of link i is 198.18.i.0/24 and
2001:2:0:1{i:02x}::/64, the server side 198.19.i.0/24 and 2001:2:0:2{i:02x}::/64.
Endpoints take host 1 and the router takes host 2 on every subnet; host 3
is an endpoint's spare, the address a "readdress" event moves it to.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_LINKS = 8
FAMILIES = (4, 6)
TABLE_BASE = 100  # policy routing table (and rule priority) of link i: TABLE_BASE + i


@dataclass(frozen=True)
class Subnet:
    host: str      # the endpoint's address (client or server)
    router: str    # the router's address on the same subnet
    prefixlen: int

    @property
    def network(self) -> str:
        return str(ipaddress.ip_interface(f"{self.host}/{self.prefixlen}").network)

    @property
    def spare(self) -> str:
        """The endpoint's other address on the subnet (host 3), which a
        "readdress" link event swaps in for `host`."""
        return str(ipaddress.ip_address(self.host) + 2)


def _check(link: int, family: int) -> None:
    if not 0 <= link < MAX_LINKS:
        raise ValueError(f"link index {link} outside 0..{MAX_LINKS - 1}")
    if family not in FAMILIES:
        raise ValueError(f"address family must be 4 or 6, not {family}")


def client_subnet(link: int, family: int) -> Subnet:
    _check(link, family)
    if family == 4:
        return Subnet(f"198.18.{link}.1", f"198.18.{link}.2", 24)
    return Subnet(f"2001:2:0:1{link:02x}::1", f"2001:2:0:1{link:02x}::2", 64)


def server_subnet(link: int, family: int) -> Subnet:
    _check(link, family)
    if family == 4:
        return Subnet(f"198.19.{link}.1", f"198.19.{link}.2", 24)
    return Subnet(f"2001:2:0:2{link:02x}::1", f"2001:2:0:2{link:02x}::2", 64)


def host_of(endpoint: str) -> str:
    """The address of an endpoint without its port: "198.18.0.1:4242",
    "[2001:2::1]:4242", and "2001:2::1:4242" (IPv6 as sockinfo and sockdiag
    write it, unbracketed: the last group is the port) each give the address
    alone; an IPv4 address without a port is itself."""
    if endpoint.startswith("["):
        return endpoint.rsplit("]", 1)[0].lstrip("[")
    return endpoint.rsplit(":", 1)[0]


def link_of(address: str) -> int | None:
    """The link an endpoint address (client or server side, either family,
    with or without ":port" or "[...]:port") is on; None for any other.  An
    unbracketed IPv6 address is taken whole, as one without a port."""
    unbracketed_v6 = address.count(":") > 1 and not address.startswith("[")
    host = address if unbracketed_v6 else host_of(address)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    for link in range(MAX_LINKS):
        for subnet in (client_subnet(link, ip.version), server_subnet(link, ip.version)):
            if ip in ipaddress.ip_network(subnet.network):
                return link
    return None


def server_aggregate(family: int) -> str:
    """One prefix covering every server-side subnet."""
    return "198.19.0.0/16" if family == 4 else "2001:2:0:200::/56"


# The attacker's subnet (harness.attack): inside the servers' aggregate, so
# the client reaches it the way it reaches the server (an ADD_ADDR naming
# it is followed); the router's end is .1, the attacker .2.
ATTACKER_IFNAMES = {"router": "ra", "attacker": "a0"}
# The forged sources of a SYN flood: routed from the server to the router,
# which drops what is sent to them (as the Internet drops replies to
# addresses no one answers from).
FLOOD_SOURCES = "198.18.128.0/18"


def attacker_subnet(family: int) -> Subnet:
    if family == 4:
        return Subnet("198.19.250.2", "198.19.250.1", 24)
    return Subnet("2001:2:0:2fa::2", "2001:2:0:2fa::1", 64)


def ifnames(link: int) -> dict[str, str]:
    """Interface names of link i in each namespace (short: names are per
    namespace, so runs never collide on them)."""
    return {"client": f"c{link}", "router_client": f"rc{link}",
            "router_server": f"rs{link}", "server": f"s{link}"}


# Per direction ("up": client to server), the router interface traffic
# leaves by (its egress, where the direction is shaped and a link event
# acts) and the one it arrives by (its ingress, where loss is applied).
ROUTER_EGRESS = {"up": "router_server", "down": "router_client"}
ROUTER_INGRESS = {"up": "router_client", "down": "router_server"}
