"""A configurable router host does what a local topology's router does:
the host delay line, a middlebox that strips MPTCP, and link events at
their times; each `--hosts` run agrees with the same scenario run locally,
and the router is left exactly as it was (interfaces, qdiscs, iptables,
nftables).  Hosts are namespaces running sshd (tests/root/sshhosts.py)."""
from __future__ import annotations

import importlib.util
import json
import os
import statistics

import installed
import pytest
from clirun import bench
from sshhosts import SshHosts, require_tools

from bench import results_format
from bench.hosts import install
from harness.agents import routerctl
from harness.host import netns


@pytest.fixture(scope="module", autouse=True)
def _sshd_and_asyncssh():
    require_tools()
    installed.require(importlib.util.find_spec("harness._delayline") is not None,
                      "needs the delay line (libnetfilter-queue-dev libmnl-dev, then make venv)")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Unshaped paths with a configurable router host; the worker bundle
    built here once (the controller's namespace has no way out)."""
    old = os.environ.get(install.CACHE_ENV)
    os.environ[install.CACHE_ENV] = str(tmp_path_factory.mktemp("bundles"))
    install.bundle()
    tmp = tmp_path_factory.mktemp("router")
    try:
        with SshHosts(tmp, rate_mbit=None) as h:
            h.inventory_path = tmp / "inventory.toml"
            h.inventory_path.write_text(h.inventory(tmp / "install", router=True))
            yield h
    finally:
        if old is None:
            del os.environ[install.CACHE_ENV]
        else:
            os.environ[install.CACHE_ENV] = old


def router_state(hosts: SshHosts) -> dict:
    return netns.call_in(hosts.topo.ns("router"), routerctl.state_of_links)


def both(hosts: SshHosts, tmp_path, *args: str) -> dict:
    """The scenario run on the hosts and locally: each run's results."""
    out = {}
    for lane, extra in (("hosts", ("--hosts", str(hosts.inventory_path))), ("local", ())):
        done = bench("run", *extra, *args, "--out", tmp_path / lane,
                     wrap=hosts.controller([]) if lane == "hosts" else ())
        assert done.returncode == 0, done.stderr
        out[lane] = results_format.load_results((tmp_path / lane / "latest").resolve() / "results.json")
    return out


def ok_median(doc: dict, scenario: str, proto: str, key: str) -> float:
    values = [t[key] for t in doc["trials"]
              if t["scenario"] == scenario and t["protocol"] == proto and t["status"] == "ok"]
    assert len(values) >= 2, (scenario, proto, [t["status"] for t in doc["trials"]])
    return statistics.median(values)


def test_the_host_delay_line_runs_on_the_router_and_agrees(hosts, tmp_path):
    before = router_state(hosts)
    runs = both(hosts, tmp_path, "--scenario", "fidelity-rr-20ms", "--scenario", "fidelity-bulk-10m-40ms",
                "--warmup", "0", "--repeat", "2", "--duration", "3")
    got = {lane: {"rr_p50_ms": {p: ok_median(d, "fidelity-rr-20ms", p, "latency_us_p50") / 1000
                                for p in ("tcp", "mptcp")},
                  "bulk": ok_median(d, "fidelity-bulk-10m-40ms", "tcp", "goodput_bps")}
           for lane, d in runs.items()}
    print(json.dumps(got))
    for proto, p50 in got["local"]["rr_p50_ms"].items():
        assert abs(got["hosts"]["rr_p50_ms"][proto] - p50) <= 0.5, got
    assert abs(got["hosts"]["bulk"] / got["local"]["bulk"] - 1) <= 0.05, got
    hosted = runs["hosts"]
    assert {t["delay_backend"] for t in hosted["trials"]} == {"host"}
    lines = [t["delay_line"] for t in hosted["trials"] if t["status"] == "ok"]
    assert lines and all(l["queues"] and sum(q["packets"] for q in l["queues"]) > 0 for l in lines)
    assert all(l["dropped"] == 0 for l in lines)
    assert hosted["scenarios"]["fidelity-rr-20ms"]["delay_backend"] == "host"
    assert router_state(hosts) == before and not hosts.workers()


def test_failover_and_middlebox_on_the_router_host(hosts, tmp_path):
    """Outcomes as each scenario expects, events on the receiver's clock,
    and the middlebox's TCP goodput as the local run's."""
    before = router_state(hosts)
    common = ("--warmup", "0", "--repeat", "2", "--duration", "3")
    done = bench("run", "--hosts", hosts.inventory_path, "--scenario", "failover", "--scenario",
                 "middlebox", *common, "--out", tmp_path / "hosts", wrap=hosts.controller([]))
    assert done.returncode == 0, done.stderr
    local = bench("run", "--scenario", "middlebox", *common, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    runs = {lane: results_format.load_results((tmp_path / lane / "latest").resolve() / "results.json")
            for lane in ("hosts", "local")}
    hosted = runs["hosts"]
    statuses = {(t["scenario"], t["protocol"]): set() for t in hosted["trials"]}
    for t in hosted["trials"]:
        statuses[(t["scenario"], t["protocol"])].add(t["status"])
    print({"/".join(k): sorted(v) for k, v in statuses.items()})
    for (name, proto), seen in statuses.items():
        expect = hosted["scenarios"][name]["definition"]["expect"][proto]
        assert seen <= set(expect or ("ok",)), (name, proto, seen, expect)
    for t in (t for t in hosted["trials"] if t["scenario"] == "failover"):
        assert [(e["action"], e["error"]) for e in t["events"]] == [("down", None), ("up", None)]
        assert all(e["at_clock"] == "server" and e["at_uncertainty_ns"] > 0 for e in t["events"])
        down, up = (e["at_s_from_first_byte"] for e in t["events"])
        assert 0 < down < up, t["events"]      # on the receiver's series, in order
    lateness = [e["late_ms"] for t in hosted["trials"] for e in t["events"]]
    print("late_ms", lateness)
    gb = {lane: ok_median(d, "middlebox", "tcp", "goodput_bps") for lane, d in runs.items()}
    print(json.dumps(gb))
    assert abs(gb["hosts"] / gb["local"] - 1) <= 0.05, gb
    assert router_state(hosts) == before and not hosts.workers()


def test_dry_run_lists_the_router_changes_and_makes_none(hosts):
    before = router_state(hosts)
    done = bench("run", "--hosts", hosts.inventory_path, "--scenario", "failover", "--scenario",
                 "fidelity-rr-20ms", "--scenario", "middlebox", "--dry-run", wrap=hosts.controller([]))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "run the host delay line, with iptables NFQUEUE rules on rs0 (queue 0), rc0 (queue 1)" in out
    assert "at 1.5 s of each trial, down on rs0, rc0; put back after" in out
    assert "strip the MPTCP option (iptables TCPOPTSTRIP) on rs0, rc0, rs1, rc1" in out
    assert router_state(hosts) == before


def test_clean_puts_back_what_a_killed_run_left_on_the_router(hosts, tmp_path):
    """What a run applied and never removed (shaping, loss, a delay line's
    rule, a strip rule, an interface taken down) goes back with `clean --hosts`."""
    before = router_state(hosts)
    installs = sorted((hosts.inventory_path.parent / "install").glob("*/routerhost"))
    if not installs:     # run alone: a short run installs the worker on the router host
        done = bench("run", "--hosts", hosts.inventory_path, "--scenario", "single-link",
                     "--repeat", "1", "--warmup", "0", "--duration", "1", "--out", tmp_path,
                     wrap=hosts.controller([]))
        assert done.returncode == 0, done.stderr
        installs = sorted((hosts.inventory_path.parent / "install").glob("*/routerhost"))
    state = installs[-1] / "state" / "links-saved.json"
    ns = hosts.topo.ns("router")
    cfg = {"egress": [{"ifname": "rs0", "ingress": "rc0", "rate_mbit": 10, "loss_pct": 1,
                       "delay_ms": 0, "jitter_ms": 0, "queue_ms": 50}],
           "netem": False, "families": [4], "queues": [{"num": 0, "ifname": "rs0"}],
           "strip": ["rc1", "rs1"]}
    netns.call_in(ns, routerctl.links_apply, str(state), cfg)
    netns.call_in(ns, routerctl.link_event, str(state), {"action": "down", "ifnames": ["rc0", "rs0"]})
    changed = router_state(hosts)
    assert changed["links"]["rs0"] == "DOWN" and changed != before
    done = bench("clean", "--hosts", hosts.inventory_path, wrap=hosts.controller([]))
    assert done.returncode == 0, done.stderr
    assert "restored the link shaping" in done.stdout
    assert router_state(hosts) == before and not state.exists()


def test_rate_and_strip_events_and_the_reset_after_a_trial(hosts, tmp_path):
    """hostctl's link events on the router host's interfaces (no scenario
    of the catalog has a rate event): each change, then the path as the
    scenario has it, then nothing left."""
    before = router_state(hosts)
    ns, state = hosts.topo.ns("router"), str(tmp_path / "links.json")
    model = [{"ifname": i, "ingress": o, "rate_mbit": 50, "loss_pct": 0, "delay_ms": 0,
              "jitter_ms": 0, "queue_ms": 50} for i, o in (("rs0", "rc0"), ("rc0", "rs0"))]
    netns.call_in(ns, routerctl.links_apply, state, {"egress": model, "netem": False, "families": [4]})
    rate = {**model[0], "rate_mbit": 5}
    netns.call_in(ns, routerctl.link_event, state, {"action": "rate", "egress": [rate], "ifnames": ["rs0"]})
    netns.call_in(ns, routerctl.link_event, state, {"action": "strip_on", "ifnames": ["rc0", "rs0"]})
    during = router_state(hosts)
    assert during["qdiscs"]["rs0"][0]["rate_bps"] == 5_000_000
    assert sum("TCPOPTSTRIP" in r for r in during["iptables"]["iptables"]) == 2
    netns.call_in(ns, routerctl.link_event, state, {"action": "reset", "ifnames": ["rs0", "rc0"],
                                                    "egress": model, "strip": ["rc0", "rs0"]})
    after = router_state(hosts)
    assert [q[0]["rate_bps"] for q in (after["qdiscs"]["rs0"], after["qdiscs"]["rc0"])] == [50_000_000] * 2
    assert not any("TCPOPTSTRIP" in r for r in after["iptables"]["iptables"])
    netns.call_in(ns, routerctl.links_restore, state)
    assert router_state(hosts) == before
