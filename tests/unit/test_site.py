"""One contract for where a trial runs: the local topology and the hosts
lane's both fulfil harness.traffic.site.Site, and nothing asks which."""
import ast
from pathlib import Path

import pytest

from bench.hosts.lane import HostsTopology
from harness.errors import CapabilityError
from harness.net.spec import LinkEvent, LinkSpec, TopologySpec
from harness.net.topology import Topology
from harness.traffic import site

ROOT = Path(__file__).resolve().parents[2]


def test_the_local_and_the_hosts_topologies_fulfil_the_contract():
    local = site.LocalSite(Topology(TopologySpec(links=(LinkSpec(),)), "mpb-contract"))
    assert isinstance(local, site.Site) and local.local and local.owner == "mpb-contract"
    hosts = HostsTopology.__new__(HostsTopology)
    assert isinstance(hosts, site.Site) and not hosts.local and hosts.owner is None


def test_a_site_without_link_events_refuses_a_schedule_in_one_sentence():
    with site.NoLinkEvents((), "on --hosts yet") as none:
        assert none.applied == []
    with pytest.raises(CapabilityError, match="link events do not run on --hosts yet"):
        site.NoLinkEvents((LinkEvent(1.0, 0, "down"),), "on --hosts yet")


def test_no_caller_asks_a_topology_what_it_is():
    """getattr/hasattr on a topology or site: the contract says what there is."""
    found = []
    for path in [*(ROOT / "bench").rglob("*.py"), *(ROOT / "harness").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr")
                    and node.args and getattr(node.args[0], "id", "") in ("topo", "site", "topology")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
