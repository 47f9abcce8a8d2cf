"""Plans: drivers from the suite or the command line, the interleaved
order of trials, and the record a resume rebuilds the plan from."""
import pytest

from bench.catalog import Catalog
from bench.errors import InputError
from bench.run import resume
from bench.run.plan import Plan, build_plan


def test_several_drivers_interleave_per_repeat():
    plan = build_plan(Catalog(), "quick", [], 2, 0, 1, ["native", "iperf3"])
    s = plan.scenarios[0]
    assert plan.slots(s)[:5] == [(0, "native", "tcp"), (0, "native", "mptcp"),
                                 (0, "iperf3", "tcp"), (0, "iperf3", "mptcp"),
                                 (1, "native", "tcp")]
    assert plan.trial_count() == 2 * 2 * 2 * 2     # scenarios x repeats x drivers x protocols
    done = {(s.name, "native", "tcp", 0), (s.name, "iperf3", "mptcp", 0)}
    assert plan.remaining(s, done)[:3] == [(0, "native", "mptcp"), (0, "iperf3", "tcp"),
                                           (1, "native", "tcp")]


def test_drivers_come_from_the_suite_unless_named(write_defs):
    cat = Catalog()
    assert build_plan(cat, "crosscheck", [], None, None, None).drivers == ("native", "iperf3")
    assert build_plan(cat, "crosscheck", [], None, None, None, ["iperf3"]).drivers == ("iperf3",)
    assert build_plan(cat, "quick", [], None, None, None).drivers == ("native",)
    assert build_plan(cat, None, ["single-link"], None, None, None,
                      ["native", "native"]).drivers == ("native",)


def test_a_suite_naming_an_unknown_driver_is_refused(write_defs):
    path = write_defs('[suite.s]\ndescription = "d"\nscenarios = ["single-link"]\n'
                      'drivers = ["native", "ns-3"]\n')
    with pytest.raises(InputError, match=r"suite 's': unknown driver 'ns-3'; available: "
                                         r"iperf3, native"):
        Catalog([path])


def test_the_recorded_plan_rebuilds_the_same_plan(write_defs):
    path = write_defs('[scenario.x]\ndescription = "d"\nlinks = [{ rate_mbit = 10 }]\n')
    plan = build_plan(Catalog([path]), None, ["x", "single-link"], 3, 0, 2,
                      ["iperf3", "native"], [path])
    d = plan.as_dict()
    assert d["scenario_files"] == [str(path.resolve())] and d["drivers"] == ["iperf3", "native"]
    assert set(d["definitions"]) == {"x", "single-link"}
    again = Plan.from_dict(d, plan.scenarios)
    assert again == plan


def test_a_scenario_that_disables_mptcp_cannot_run_mptcp_trials(write_defs):
    base = '[scenario.off]\ndescription = "d"\nlinks = [{}]\nsysctls = { "net.mptcp.enabled" = 0 }\n'
    with pytest.raises(InputError, match=r"scenario 'off' sets net.mptcp.enabled=0 in its "
                                         r"namespaces but runs MPTCP trials"):
        build_plan(Catalog([write_defs(base)]), None, ["off"], 1, 0, 1)
    tcp_only = base + 'protocols = ["tcp"]\n'
    plan = build_plan(Catalog([write_defs(tcp_only, "b.toml")]), None, ["off"], 1, 0, 1)
    assert [s.protocols for s in plan.scenarios] == [("tcp",)]


def test_the_first_difference_between_two_definitions_is_named():
    a = {"links": [{"rate_mbit": 100.0, "loss_pct": None}], "family": 4}
    b = {"links": [{"rate_mbit": 90.0, "loss_pct": None}], "family": 4}
    assert resume._first_difference(a, b) == "links.0.rate_mbit: 100.0 then, 90.0 now"
    assert resume._first_difference(a, a) is None
    assert resume._first_difference(a, {**a, "links": []}) == (
        "links: [{'rate_mbit': 100.0, 'loss_pct': None}] then, [] now")


def test_a_suite_can_set_one_scenarios_duration_and_the_command_line_overrides_it(write_defs):
    from bench.catalog import Catalog
    from bench.run.plan import build_plan
    defs = write_defs('[suite.s]\ndescription = "d"\nscenarios = ["single-link", "rr"]\n'
                      'duration_s = 4\ndurations = { rr = 2 }\n')
    cat = Catalog([defs])
    plan = build_plan(cat, "s", [], None, None, None, ["native"])
    assert plan.trial_duration(cat.scenario("rr")) == 2
    assert plan.trial_duration(cat.scenario("single-link")) == 4
    plan = build_plan(cat, "s", [], None, None, 3, ["native"])
    assert plan.trial_duration(cat.scenario("rr")) == 3


def test_suite_durations_must_name_its_scenarios(write_defs):
    import pytest

    from bench.catalog import Catalog
    from bench.errors import InputError
    defs = write_defs('[suite.s]\ndescription = "d"\nscenarios = ["single-link"]\ndurations = { rr = 2 }\n')
    with pytest.raises(InputError, match="durations names 'rr'"):
        Catalog([defs])


def test_driver_modes_apply_to_that_drivers_bulk_trials_only(write_defs):
    defs = write_defs('[suite.s]\ndescription = "d"\nscenarios = ["single-link", "rr"]\n'
                      'drivers = ["native", "iperf3"]\n'
                      'driver_modes = { native = { recv_mode = "trunc", recv_lowat_kib = 512 } }\n')
    cat = Catalog([defs])
    plan = build_plan(cat, "s", [], None, None, None)
    native = plan.params(cat.scenario("single-link"), "native", "tcp")
    assert (native.recv_mode, native.recv_lowat, native.send_mode) == ("trunc", 512 * 1024, "send")
    iperf3 = plan.params(cat.scenario("single-link"), "iperf3", "tcp")
    assert (iperf3.recv_mode, iperf3.recv_lowat) == ("recv", 0)
    rr = plan.params(cat.scenario("rr"), "native", "tcp")
    assert (rr.recv_mode, rr.recv_lowat) == ("recv", 0)
    # What the run records: the modes given, not the fields left unset.
    assert plan.as_dict()["driver_modes"] == {"native": {"recv_mode": "trunc", "recv_lowat_kib": 512}}


def test_driver_modes_are_validated(write_defs):
    for table, fragment in (('driver_modes = { native = { recv_mode = "telepathy" } }', "receive mode"),
                            ('driver_modes = { iperf3 = { recv_mode = "trunc" } }', "not one of the suite's drivers")):
        defs = write_defs(f'[suite.s]\ndescription = "d"\nscenarios = ["single-link"]\n{table}\n')
        with pytest.raises(InputError, match=fragment):
            Catalog([defs])


def test_a_client_without_mptcp_needs_a_tcp_retry_or_an_unsupported_expectation(write_defs):
    from bench.catalog import Catalog
    from bench.errors import InputError
    from bench.run.plan import build_plan
    base = ('[scenario.n]\ndescription = "d"\nlinks = [{}]\n'
            'client_sysctls = { "net.mptcp.enabled" = 0 }\n')
    with pytest.raises(InputError, match="set tcp_retry = true"):
        build_plan(Catalog([write_defs(base)]), None, ["n"], None, None, None)
    for extra in ("tcp_retry = true\n", 'expect = { mptcp = ["unsupported"] }\n'):
        plan = build_plan(Catalog([write_defs(base + extra, name=f"{len(extra)}.toml")]),
                          None, ["n"], None, None, None)
        assert plan.scenarios[0].client_sysctls == {"net.mptcp.enabled": 0}
