"""The hosts lane's pure parts: the inventory, what a scenario changes on a
host, which scenarios fit, the worker's requirements, and the lease."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import cli
from bench.catalog import Catalog
from bench.errors import InputError
from bench.hosts import install, inventory, preflight
from bench.hosts.lane import as_measured, links_config, pm_config, unfit
from harness.agents import leased

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[hosts.laptop]
role = "client"
ssh = { host = "192.0.2.10", user = "me", key = "~/.ssh/id_ed25519", jump = "me@bastion:2222" }

[hosts.server]
role = "server"
ssh = { host = "server.example" }

[[paths]]
client_interface = "wlan0"
client_address = "192.0.2.23"
server_address = "203.0.113.5"

[[paths]]
client_interface = "wwan0"
client_address = "198.51.100.2"
server_address = "203.0.113.5"
"""


def load(tmp_path, text: str) -> inventory.Inventory:
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return inventory.load(path)


def test_an_inventory_loads(tmp_path):
    inv = load(tmp_path, GOOD)
    assert inv.host("client").name == "laptop" and inv.host("server").ssh.port == 22
    assert inv.host("client").ssh.jump_parts() == ("me", "bastion", 2222)
    assert inv.family == 4 and inv.host("router") is None and len(inv.paths) == 2


@pytest.mark.parametrize("edit, says", [
    (lambda t: t.replace('role = "server"', 'role = "client"'), 'exactly one host with role = "client"'),
    (lambda t: t.replace('host = "server.example"', 'host = "a b"'), "host 'server': ssh.host"),
    (lambda t: t.replace('user = "me",', 'user = "me", port = 0,'), "host 'laptop': ssh.port"),
    (lambda t: t.replace('"198.51.100.2"', '"198.51.100"'), "not an IPv4 or IPv6 address"),
    (lambda t: t.replace('"198.51.100.2"', '"2001:db8::1"'), "one address family"),
    (lambda t: t.replace('role = "client"', 'role = "client"\nshape = true'), "unknown key 'shape'"),
    (lambda t: t.replace("[hosts.laptop]", "[hosts.'../x']"), "host name '../x' is not allowed"),
    (lambda t: t.replace('jump = "me@bastion:2222"', 'jump = "me@@b"'), "[user@]host[:port]"),
    (lambda t: t.replace("[[paths]]", "[[path]]", 1), "unknown key 'path'"),
    (lambda t: "hosts = 1", "no [hosts.<name>] table"),
    (lambda t: "[hosts", "not valid TOML"),
])
def test_a_bad_inventory_is_one_sentence_naming_what(tmp_path, edit, says):
    with pytest.raises(InputError) as exc:
        load(tmp_path, edit(GOOD))
    assert says in str(exc.value) and "\n" not in str(exc.value)


KEYS = st.sampled_from(["hosts", "paths", "role", "ssh", "host", "port", "user", "key", "jump",
                        "client_address", "server_address", "configurable", "install_dir", "x"])
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(KEYS, VALUES, max_size=4), good=st.booleans())
def test_any_inventory_loads_or_is_refused_in_one_sentence(tmp_path, doc, good):
    """Whatever shape the tables have: an Inventory, or InputError."""
    data = {**tomllib.loads(GOOD), **doc} if good else doc
    path = tmp_path / "any.toml"
    path.write_text(_toml(data))
    try:
        inventory.load(path)
    except InputError as exc:
        assert "\n" not in str(exc)


def _toml(value: dict) -> str:
    """A TOML text of `value` (inline tables; None left out), enough for the test."""
    def inline(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {inline(x)}" for k, x in v.items()
                                   if x is not None) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(inline(x) for x in v if x is not None) + "]"
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
    return "".join(f"{json.dumps(k)} = {inline(v)}\n" for k, v in value.items() if v is not None)


def test_cli_refuses_a_bad_inventory_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "inventory.toml"
    bad.write_text(GOOD.replace('role = "server"', 'role = "router"'))
    assert cli.main(["run", "--hosts", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'role = "server"' in err[0]
    assert not (tmp_path / "out").exists()


def test_dry_run_and_host_config_need_hosts(capsys):
    assert cli.main(["run", "--dry-run"]) == 2
    assert "--hosts" in capsys.readouterr().err


def test_endpoints_of_a_scenario_in_inventory_addresses(tmp_path):
    inv, cat = load(tmp_path, GOOD), Catalog()
    ifnames = [{"client": "wlan0", "server": "eth0"}, {"client": "wwan0", "server": "eth0"}]
    client = pm_config(cat.scenario("aggregate-2x"), "client", inv, ifnames)
    assert client == {"limits": {"subflows": 8, "add_addr_accepted": 8},
                      "endpoints": [{"address": "198.51.100.2", "ifname": "wwan0", "flags": ["subflow"]}]}
    assert pm_config(cat.scenario("aggregate-2x"), "server", inv, ifnames)["endpoints"] == []
    full = pm_config(cat.scenario("aggregate-2x-fullmesh"), "server", inv, ifnames)
    assert full["endpoints"] == [{"address": "203.0.113.5", "ifname": "eth0", "flags": ["signal"]}]


def test_which_scenarios_fit_the_hosts(tmp_path):
    inv, cat = load(tmp_path, GOOD), Catalog()
    assert unfit(cat.scenario("aggregate-2x"), inv) is None
    assert "needs 4 paths" in unfit(cat.scenario("unshaped-4x"), inv)
    assert "IPv6" in unfit(cat.scenario("aggregate-2x-ipv6"), inv)
    assert "router" in unfit(cat.scenario("middlebox"), inv)
    assert "competing CPU load" in unfit(cat.scenario("aggregate-2x-load-both"), inv)
    measured = as_measured(cat.scenario("aggregate-2x"))
    assert all(l.spec().rate_up_mbit is None for l in measured.links)


def test_worker_requirements_are_what_harness_imports():
    """The remote install holds the project's wheel and WORKER_REQUIREMENTS
    only: harness must import nothing else outside the standard library."""
    third = set()
    for path in (ROOT / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     else [])
            third |= {n.split(".")[0] for n in names if n}
    third -= set(sys.stdlib_module_names) | {"harness"}
    assert third == set(install.WORKER_REQUIREMENTS) | set(install.LOCAL_ONLY_REQUIREMENTS)
    # A bulk worker starts on the standard library (pyroute2 is hostctl's,
    # numpy the latency workloads').
    worker = subprocess.run([sys.executable, "-c", "import sys, harness.traffic.worker, harness.agents.leased; "
                             "print(sorted({m.split('.')[0] for m in sys.modules}))"],
                            capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "'numpy'" not in worker and "'pyroute2'" not in worker


def test_target_dir_is_versioned_per_host():
    assert install.target_dir("/home/me", "~/.cache/mptcp-bench", "0.1.0-abc", "laptop") == \
        "/home/me/.cache/mptcp-bench/0.1.0-abc/laptop"
    assert install.target_dir("/root", "/opt/mpb", "0.1.0-abc", "s") == "/opt/mpb/0.1.0-abc/s"


def test_preflight_reads_limits_and_interfaces():
    assert preflight._limits("add_addr_accepted 0 subflows 2 ") == {"add_addr_accepted": 0, "subflows": 2}
    facts = {"addresses": [{"ifname": "lo", "addr_info": [{"local": "127.0.0.1"}]},
                           {"ifname": "wlan0", "addr_info": [{"local": "192.0.2.23"}]}]}
    assert preflight.interface_of(facts, "192.0.2.23") == "wlan0"
    assert preflight.interface_of(facts, "192.0.2.99") is None


def _leased(*argv: str, lease: float = 0.5) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.agents.leased", str(lease), "--", *argv],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def test_a_lapsed_lease_kills_the_command_and_what_it_started():
    proc = _leased("sh", "-c", "sleep 60 & echo $!; wait")
    grandchild = int(proc.stdout.readline())
    assert proc.wait(timeout=30) == leased.EXIT_LEASE_LOST     # no renewal came
    time.sleep(0.2)
    assert not Path(f"/proc/{grandchild}").exists() or \
        Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z"


def test_end_of_stdin_ends_the_lease_at_once():
    proc = _leased("sleep", "60", lease=60)
    proc.stdin.close()
    assert proc.wait(timeout=30) == leased.EXIT_LEASE_LOST


def test_a_renewed_lease_lets_the_command_finish_with_its_status():
    proc = _leased("sh", "-c", "sleep 1; echo done; exit 3", lease=0.5)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        time.sleep(0.1)
    assert proc.returncode == 3 and proc.stdout.read() == b"done\n"


def test_two_hosts_runs_compare_without_noise_and_not_with_a_local_run():
    from bench.analysis.comparability import lookup
    assert lookup("lane.kind").policy == "incomparable"
    assert lookup("lane.link_model").policy == "incomparable"
    assert lookup("lane.hosts.laptop.clock.skew_s").policy == "ignore"
    assert lookup("lane.hosts.laptop.addresses.wlan0.0.valid_life_time").policy == "ignore"
    assert lookup("lane.hosts.laptop.kernel").policy == "warn"
    assert lookup("scenarios.aggregate-2x.readback.hosts.client").policy == "info"


def test_a_configurable_routers_link_model(tmp_path):
    inv = load(tmp_path, GOOD.replace('[[paths]]', '[[paths]]\nrouter_up_interface = "eth2"\n'
                                      'router_down_interface = "eth1"') + """
[hosts.gw]
role = "router"
configurable = true
ssh = { host = "192.0.2.1" }
""")
    cat = Catalog()
    egress = links_config(cat.scenario("aggregate-2x"), inv)["egress"]
    assert [(e["ifname"], e["ingress"], e["rate_mbit"]) for e in egress] == [
        ("eth2", "eth1", 50), ("eth1", "eth2", 50)] * 2
    assert links_config(cat.scenario("single-link"), inv)["egress"] == []
    host_line = cat.scenario("aggregate-2x").model_copy(update={"delay_backend": "host", "links": (
        cat.scenario("aggregate-2x").links[0].model_copy(update={"delay_ms": 10}),)})
    assert unfit(host_line, inv) is None     # the router host runs the delay line
    with pytest.raises(InputError, match="only a router may be configurable"):
        load(tmp_path, GOOD.replace('role = "client"', 'role = "client"\nconfigurable = true'))


@pytest.mark.parametrize("argv", [[], ["nope"], ["version", "extra"], ["pm-apply", "state"],
                                  ["links-restore"]])
def test_hostctl_refuses_an_unknown_command_or_the_wrong_arguments(argv, capsys):
    from harness.agents import hostctl
    assert hostctl.main(["hostctl", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:") and "pm-apply STATE_FILE JSON" in err


def test_hostctl_answers_in_one_json_line(capsys):
    from harness.agents import hostctl
    assert hostctl.main(["hostctl", "version"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["version"]
