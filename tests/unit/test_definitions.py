import pytest

from bench.catalog import Catalog
from bench.errors import InputError
from bench.run.plan import build_plan


def test_every_builtin_scenario_and_suite_loads_and_builds_a_topology():
    cat = Catalog()
    assert {"single-link", "aggregate-2x", "aggregate-2x-ipv6"} <= set(cat.scenarios)
    assert {"default", "quick"} <= set(cat.suites)
    for s in cat.scenarios.values():   # building each raises on anything inconsistent
        s.topology()
        s.expected_subflows()


def test_default_endpoints_announce_one_subflow_per_extra_link():
    s = Catalog().scenario("aggregate-2x")
    eps = s.topology().endpoints
    assert [(e.side, e.link, e.flags) for e in eps] == [("client", 1, ("subflow",))]
    assert s.expected_subflows() == 2


def test_protocol_links_put_tcp_and_mptcp_on_their_own_links():
    s = Catalog().scenario("aggregate-equal-rate")
    assert s.trial_params("tcp").link == 0 and s.trial_params("mptcp").link == 1
    eps = s.topology().endpoints
    assert [(e.side, e.link, e.flags) for e in eps] == [("client", 2, ("subflow",))]
    assert s.expected_subflows() == 2
    # Without protocol_links both start on link 0 and MPTCP uses every link.
    plain = Catalog().scenario("aggregate-2x")
    assert plain.links_used("tcp") == (0,) and plain.links_used("mptcp") == (0, 1)
    assert plain.trial_params("mptcp").link == 0


def test_a_load_spins_on_the_pinned_workers_cpus():
    cat = Catalog()
    cpus = {s: cat.scenario(f"single-link-load-{s}").trial_params("mptcp").load_cpus
            for s in ("receiver", "sender", "both")}
    assert cpus == {"receiver": (1,), "sender": (0,), "both": (0, 1)}    # split placement
    assert cat.scenario("single-link").trial_params("tcp").load_cpus == ()
    assert set(cat.suite("contention").scenarios) >= {"single-link", "aggregate-2x-load-both"}


def test_rate_shorthand_sets_both_directions():
    link = Catalog().scenario("aggregate-2x").topology().links[0]
    assert link.rate_up_mbit == link.rate_down_mbit == 50


BASE = '''
[scenario.x]
description = "d"
links = [{ rate_mbit = 10 }]
'''


@pytest.mark.parametrize("text, fragment", [
    (BASE.replace('rate_mbit = 10', 'rate_mbit = 10, colour = "red"'), "unknown key 'links.0.colour'"),
    (BASE.replace('rate_mbit = 10', 'rate_mbit = -5'), "links.0.rate_mbit: input should be greater than 0"),
    (BASE.replace('rate_mbit = 10', 'rate_mbit = 0'), "greater than 0"),
    (BASE.replace('rate_mbit = 10', 'rate_mbit = "fast"'), "links.0.rate_mbit"),
    (BASE.replace('rate_mbit = 10', 'loss_pct = 150'), "links.0.loss_pct: input should be less than 100"),
    (BASE.replace('rate_mbit = 10', 'loss_pct = -1'), "loss_pct"),
    (BASE.replace('links = [{ rate_mbit = 10 }]', 'links = [' + '{},' * 9 + ']'), "at most 8 items"),
    (BASE.replace('links = [{ rate_mbit = 10 }]', 'links = []'), "at least 1 item"),
    (BASE.replace('description = "d"\n', ''), "missing required key 'description'"),
    (BASE + 'family = 5\n', "family"),
    (BASE + '[scenario.x.mptcp]\nendpoints = [{ link = 3 }]\n', "mptcp endpoint on link 3"),
    (BASE + '[scenario.x.workload]\nduration_s = 0\n', "workload.duration_s"),
    (BASE + 'protocol_links = { mptcp = [0, 2] }\n', "protocol_links on link 2"),
    (BASE + 'cpu = { placement = "none" }\nload = { cpus = "both" }\n', "needs that worker pinned"),
    (BASE + 'load = { cpus = "router" }\n', "load.cpus"),
    (BASE + 'protocol_links = { tcp = [0, 0] }\n', "protocol_links.tcp: tuple should have at most 1"),
    (BASE.replace('{ rate_mbit = 10 }', '{}, {}') + 'protocol_links = { mptcp = [1, 1] }\n',
     "protocol_links.mptcp names a link twice"),
    (BASE.replace('{ rate_mbit = 10 }', '{}, {}, {}') + 'protocol_links = { mptcp = [1, 2] }\n'
     '[scenario.x.mptcp]\nendpoints = [{ link = 2 }]\n', "not both"),
    ('[scenrio.x]\ndescription = "d"\n', "unknown top-level table(s) scenrio"),
    ('[scenario.x\n', "not valid TOML"),
    ('', "no [scenario.<name>] or [suite.<name>] table"),
    ('[suite.s]\ndescription = "d"\nscenarios = ["nope"]\n', "names unknown scenario 'nope'"),
    ('[scenario.single-link]\ndescription = "d"\nlinks = [{}]\n', "already defined"),
])
def test_bad_definitions_get_one_clear_sentence(write_defs, text, fragment):
    path = write_defs(text)
    with pytest.raises(InputError) as err:
        Catalog([path])
    msg = str(err.value)
    assert str(path) in msg
    assert fragment in msg
    assert "\n" not in msg


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="no such scenario file"):
        Catalog([tmp_path / "absent.toml"])


def test_unknown_scenario_and_suite_are_named():
    cat = Catalog()
    with pytest.raises(InputError, match="unknown scenario 'nope'"):
        cat.scenario("nope")
    with pytest.raises(InputError, match="unknown suite 'nope'"):
        cat.suite("nope")


def test_user_scenario_and_suite_validate_like_builtins(write_defs):
    path = write_defs(BASE + '[suite.mine]\ndescription = "d"\nscenarios = ["x", "single-link"]\nrepeat = 3\n')
    cat = Catalog([path])
    assert cat.suite("mine").repeat == 3
    params = cat.scenario("x").trial_params("mptcp")
    assert params.protocol == "mptcp" and params.cpu_sender == 0 and params.cpu_receiver == 1


def test_placements_and_explicit_cpus(write_defs):
    cat = Catalog([write_defs(BASE + '[scenario.x.cpu]\nsender = 1\nreceiver = 1\n')])
    assert cat.scenario("x").cpu.cpus() == (1, 1)
    assert cat.scenario("x").cpu.label() == "s1/r1"


def _with_workload(fields: str) -> str:
    return BASE + "workload = { " + fields + " }\n"


@pytest.mark.parametrize("workload, fragment", [
    ('send_mode = "sendmsg"', "unknown send mode 'sendmsg'; known: send, sendfile, splice"),
    ('recv_mode = "mmap"', "unknown receive mode 'mmap'"),
    ('kind = "rr", bytes = 1000', "`bytes` applies to bulk workloads only"),
    ('kind = "crr", send_mode = "zerocopy"', "send_mode, recv_mode, recv_lowat_kib and notsent_lowat_kib apply"),
    ('kind = "rr", recv_lowat_kib = 256', "send_mode, recv_mode, recv_lowat_kib and notsent_lowat_kib apply"),
    ('recv_lowat_kib = 4096', "recv_lowat_kib: input should be less than or equal to 3072"),
    ('kind = "rr", notsent_lowat_kib = 128', "notsent_lowat_kib apply to bulk flows"),
    ('notsent_lowat_kib = -1', "notsent_lowat_kib: input should be greater than or equal to 0"),
    ('verify = true, recv_mode = "trunc"', "verify needs a bulk flow received with"),
    ('flows = 10001', "flows: input should be less than or equal to 10000"),
    ('kind = "hold", response_bytes = 8', "a hold workload sends no requests"),
    ('kind = "rr", request_bytes = 0', "request_bytes: input should be greater than or equal to 1"),
    ('kind = "pingpong"', "workload.kind"),
])
def test_bad_workloads_are_refused_in_one_sentence(write_defs, workload, fragment):
    with pytest.raises(InputError) as exc:
        Catalog([write_defs(_with_workload(workload))])
    assert fragment in str(exc.value) and "scenario 'x'" in str(exc.value)


def test_workload_parameters_reach_the_trial():
    p = Catalog().scenario("rr-under-load").trial_params("mptcp", 4.0)
    assert (p.workload, p.send_mode, p.flows, p.load_flows) == ("rr_under_load", "send", 1, 1)
    p = Catalog().scenario("mode-zerocopy").trial_params("tcp")
    assert p.send_mode == "zerocopy" and p.recv_mode == "recv" and not p.verify
    assert p.recv_lowat == 0
    p = Catalog().scenario("mode-recv-lowat").trial_params("mptcp")
    assert (p.recv_mode, p.recv_lowat, p.bufsize) == ("trunc", 1 << 20, 128 * 1024)
    assert p.notsent_lowat == 0


def test_offloads_reach_the_topology_and_unknown_ones_are_refused(write_defs):
    spec = Catalog([write_defs(BASE + "offloads = { gro = true, tso = false }\n")]).scenario("x").topology()
    assert spec.offloads == (("gro", True), ("tso", False))
    with pytest.raises(InputError) as exc:
        Catalog([write_defs(BASE + "offloads = { gso_magic = true }\n")])
    assert "offloads" in str(exc.value) and "scenario 'x'" in str(exc.value)


def test_an_unsent_data_low_water_mark_reaches_the_sender(write_defs):
    p = Catalog([write_defs(_with_workload("notsent_lowat_kib = 128"))]).scenario("x").trial_params("mptcp")
    assert p.notsent_lowat == 128 << 10
    assert "an unsent-data low-water mark (TCP_NOTSENT_LOWAT)" in p.engine_features()


def test_placement_suite_sweeps_placements_on_the_single_link():
    cat = Catalog()
    placed = {cat.scenario(n).cpu.label() for n in cat.suite("placement").scenarios}
    assert placed == {"split", "same", "none"}
    assert {len(cat.scenario(n).links) for n in cat.suite("placement").scenarios} == {1}
    assert Catalog().scenario("single-link").cpu.cpus() == (0, 1)   # the default


def test_client_protocol_makes_the_trials_protocol_the_listeners(catalog, write_defs):
    s = catalog.scenario("listener-bulk")
    p = s.trial_params("mptcp")
    assert (p.protocol, p.server_protocol) == ("tcp", "mptcp")
    assert (s.trial_params("tcp").protocol, s.trial_params("tcp").server_protocol) == ("tcp", "tcp")
    from bench.catalog import Catalog
    from bench.errors import InputError
    path = write_defs('[scenario.x]\ndescription = "d"\nlinks = [{}]\nclient_protocol = "tcp"\n'
                      'server_protocol = "tcp"\n')
    with pytest.raises(InputError, match="leave server_protocol out"):
        Catalog([path])


def test_reorder_and_distribution_need_jitter(tmp_path):
    f = tmp_path / "defs.toml"
    f.write_text('[scenario.x]\ndescription = "d"\nlinks = [{ rate_mbit = 10, delay_ms = 5, '
                 'reorder = true }]\n')
    with pytest.raises(InputError, match="give jitter_ms too"):
        Catalog(extra_files=[f])


def test_delay_scenarios_carry_their_jitter_and_backend():
    link = Catalog().scenario("jitter-2x-reorder").topology().links[0]
    assert (link.delay_ms, link.jitter_ms, link.reorder) == (20, 5, True)
    heterogeneous = Catalog().scenario("heterogeneous")
    spec = heterogeneous.topology()      # the request, auto, is not resolved yet
    assert heterogeneous.delay_backend == "auto" and spec.delay_backend is None
    assert spec.delayed and "delay" in spec.needs()
    resolved = heterogeneous.topology("host")
    assert resolved.delay_backend == "host" and "delay:host" in resolved.needs()
    assert not Catalog().scenario("aggregate-2x").topology().delayed


def test_run_delay_backend_overrides_every_scenario_and_is_recorded():
    plan = build_plan(Catalog(), "paths", [], None, None, None, delay_backend="netem")
    assert {s.delay_backend for s in plan.scenarios} == {"netem"}
    assert {d["delay_backend"] for d in plan.as_dict()["definitions"].values()} == {"netem"}
    assert "delay:netem" in plan.scenarios[0].topology().needs()


def test_a_delayed_topology_is_built_only_with_its_backend_resolved():
    from harness.errors import TopologyError
    from harness.net.topology import Topology
    spec = Catalog().scenario("heterogeneous").topology()
    with pytest.raises(TopologyError, match="delay backend resolved first"):
        Topology(spec, "mpb-unresolved")._build()
    with pytest.raises(TopologyError, match="no delay backend 'auto'"):
        Catalog().scenario("heterogeneous").topology("auto")
