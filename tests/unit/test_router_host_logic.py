"""A configurable router host's configs, refusals and clock translation
(bench.hosts.router, bench.hosts.lane), without hosts."""
from __future__ import annotations

import pytest

from bench.catalog import Catalog
from bench.hosts import inventory, router
from bench.hosts.lane import links_config, unfit
from bench.hosts.ssh import HostError
from harness.net.spec import LinkEvent

PATHS = """
[hosts.laptop]
role = "client"
ssh = { host = "192.0.2.10" }

[hosts.server]
role = "server"
ssh = { host = "203.0.113.5" }
"""
ROUTER = """
[hosts.gw]
role = "router"
configurable = true
ssh = { host = "192.0.2.1" }
"""


def inv(tmp_path, configurable: bool = True) -> inventory.Inventory:
    text = PATHS + (ROUTER if configurable else "")
    for i in range(2):
        text += (f'[[paths]]\nclient_address = "192.0.2.{20 + i}"\nserver_address = "203.0.113.5"\n'
                 + (f'router_up_interface = "up{i}"\nrouter_down_interface = "dn{i}"\n'
                    if configurable else ""))
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return inventory.load(path)


def test_router_scenarios_fit_only_with_a_configurable_router(tmp_path):
    cat, with_router, without = Catalog(), inv(tmp_path), inv(tmp_path, configurable=False)
    for name in ("failover", "middlebox", "fidelity-rr-20ms"):
        assert unfit(cat.scenario(name), with_router) is None, name
    for name in ("failover", "middlebox"):
        why = unfit(cat.scenario(name), without)
        assert "router the suite configures" in why and why.count(".") <= 1
    drops = [s for s in cat.scenarios.values()
             if s.middlebox.drop_syn and len(s.links) <= 2 and not (s.sysctls or s.client_sysctls)]
    assert drops and all("drops MPTCP SYNs" in unfit(s, with_router) for s in drops)
    readdress = [s for s in cat.scenarios.values()
                 if any(e.action.startswith("readdress") for e in s.events) and len(s.links) <= 2
                 and s.mptcp.path_manager == "kernel" and not s.sysctls]
    assert readdress and all("readdress" in unfit(s, with_router) for s in readdress)


def test_the_delay_line_and_middlebox_configs_name_the_router_interfaces(tmp_path):
    cat, i = Catalog(), inv(tmp_path)
    delayed = links_config(cat.scenario("fidelity-rr-20ms"), i, "host")
    assert delayed["queues"] == [{"num": 0, "ifname": "up0"}, {"num": 1, "ifname": "dn0"}]
    assert delayed["netem"] is False and delayed["families"] == [4]
    assert links_config(cat.scenario("fidelity-rr-20ms"), i, "netem")["queues"] == []
    assert links_config(cat.scenario("middlebox"), i)["strip"] == ["up0", "dn0", "up1", "dn1"]
    assert links_config(cat.scenario("aggregate-2x"), i)["strip"] == []


def test_link_events_and_their_reset(tmp_path):
    cat, i = Catalog(), inv(tmp_path)
    s = cat.scenario("failover")
    down = router.event_config(LinkEvent(1.5, 0, "down"), s, i, netem=False)
    assert down["action"] == "down" and down["ifnames"] == ["up0", "dn0"]
    rate = router.event_config(LinkEvent(1, 1, "rate", rate_mbit=5, direction="up"), s, i, netem=False)
    assert [(e["ifname"], e["rate_mbit"]) for e in rate["egress"]] == [("up1", 5)]
    strip = router.event_config(LinkEvent(1, 0, "strip_mptcp"), s, i, netem=False)
    assert strip["action"] == "strip_on"
    reset = router.reset_config(s, i, 0, netem=False, stripped=True)
    assert [(e["ifname"], e["rate_mbit"]) for e in reset["egress"]] == [("up0", 50), ("dn0", 50)]
    assert reset["strip"] == ["up0", "dn0"]
    with pytest.raises(HostError, match="readdress"):
        router.event_config(LinkEvent(1, 0, "readdress"), s, i, netem=False)


def test_the_backend_each_delayed_scenario_gets_on_the_router(tmp_path):
    cat = Catalog()
    delayed, plain = cat.scenario("fidelity-rr-20ms"), cat.scenario("aggregate-2x")
    caps = {"netem": False, "nfqueue": True, "iptables": True}
    assert router.resolve([delayed, plain], "gw", caps) == {"fidelity-rr-20ms": "host"}
    assert router.resolve([delayed], "gw", {**caps, "netem": True}) == {"fidelity-rr-20ms": "netem"}
    with pytest.raises(HostError, match="libnetfilter-queue") as e:
        router.resolve([delayed], "gw", {**caps, "nfqueue": False})
    assert str(e.value).count(". ") == 0
    with pytest.raises(HostError, match="no netem"):
        router.resolve([delayed.model_copy(update={"delay_backend": "netem"})], "gw", caps)
    with pytest.raises(HostError, match="iptables"):
        router.resolve([cat.scenario("middlebox")], "gw", {**caps, "iptables": False})


def test_the_clock_offset_is_taken_from_the_quickest_round_trip():
    # (controller before, host reading, controller after): the host 5 s ahead
    samples = [(0, 5_000_000_900, 2_000), (10_000, 5_000_010_400, 10_800), (20_000, 5_000_021_000, 25_000)]
    off = router.offset_from(samples)
    assert off == router.Offset(5_000_000_000, 400)


def test_a_router_time_lands_on_the_server_clock():
    # router 5 s ahead of the controller, server 2 s behind: 7 s apart
    r, s = router.Offset(5_000_000_000, 300), router.Offset(-2_000_000_000, 200)
    at, unc = router.translate(12_000_000_000, r, s)
    assert at == 5_000_000_000 and unc == 500
    same = router.Offset(0, 100)
    assert router.translate(42, same, same) == (42, 200)


def test_the_router_hosts_rules_are_the_local_routers():
    from harness.agents import routerctl
    from harness.net import addressing, delayline, middlebox
    names = addressing.ifnames(0)
    local = middlebox.strip_mptcp_rules((0,))
    here = routerctl.strip_rules([names["router_client"], names["router_server"]], [4, 6])
    assert here == local
    qs = [delayline.Queue(0, "eth2", 20), delayline.Queue(1, "eth1", 20)]
    assert routerctl.queue_rules([{"num": q.num, "ifname": q.ifname} for q in qs], [4]) == \
        delayline.rules(qs, (4,))
