"""The metadata registry knows what a run records and what its
differences mean."""
import copy

from bench.analysis import comparability, rundata


def test_every_key_a_real_run_records_is_registered_with_its_type(data_dir):
    head = rundata.open_run(data_dir / "runs" / "quick-a").head
    assert comparability.unregistered(head) == []
    kinds = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list,
             "any": object}
    for key, value in comparability.view(head).items():
        entry = comparability.lookup(key)
        assert value is None or isinstance(value, kinds[entry.kind]), (key, value, entry.kind)


def test_policies_of_typical_differences(data_dir):
    base = rundata.open_run(data_dir / "runs" / "quick-a").head
    cand = copy.deepcopy(base)
    cand["metadata"]["kernel"]["release"] = "6.19.0"
    cand["metadata"]["started"] = "later"
    cand["metadata"]["suite"]["duration_s"] = 5.0
    cand["scenarios"]["aggregate-2x"]["readback"]["sysctls"]["client"][
        "net.ipv4.tcp_congestion_control"] = "cubic"
    cand["scenarios"]["aggregate-2x"]["definition"]["description"] = "reworded"
    cand["metadata"]["cpu_placement_per_trial"] = True
    diffs = {d.key: d for d in comparability.differences(base, cand, {"aggregate-2x"})}
    assert diffs["kernel.release"].policy == "warn"
    assert diffs["suite.duration_s"].policy == "incomparable"
    assert diffs["suite.duration_s"].line() == "trial duration (suite.duration_s): 2 s → 5 s"
    key = "scenarios.aggregate-2x.readback.sysctls.client.net.ipv4.tcp_congestion_control"
    assert diffs[key].policy == "warn" and diffs[key].cand == "cubic"
    assert diffs["cpu_placement_per_trial"].policy == "unregistered"
    assert "started" not in diffs                                # ignored: differs every run
    assert not any("description" in k for k in diffs)
    assert [d.key for d in comparability.incomparable(list(diffs.values()))] == ["suite.duration_s"]


def test_scenarios_outside_the_comparison_are_not_compared(data_dir):
    base = rundata.open_run(data_dir / "runs" / "quick-a").head
    cand = copy.deepcopy(base)
    cand["scenarios"]["single-link"]["definition"]["links"] = [{"rate_mbit": 10}]
    assert comparability.differences(base, cand, {"aggregate-2x"}) == []


def test_a_run_recorded_before_a_field_existed_stays_comparable(data_dir):
    """quick-a was recorded before workload modes and the VM lane existed."""
    base = rundata.open_run(data_dir / "runs" / "quick-a").head
    cand = copy.deepcopy(base)
    cand["metadata"]["lane"] = {"kind": "host"}                    # the old default
    workload = cand["scenarios"]["aggregate-2x"]["definition"]["workload"]
    workload.update(send_mode="send", recv_mode="recv")           # the defaults, written out
    cand["metadata"]["suite"]["drivers"] = ["native"]             # recorded by newer runs only
    diffs = comparability.differences(base, cand, {"aggregate-2x"})
    assert [(d.key, d.policy) for d in diffs] == [("suite.drivers", "warn")]
    cand["metadata"]["lane"] = {"kind": "vm"}
    assert [d.key for d in comparability.incomparable(
        comparability.differences(base, cand, {"aggregate-2x"}))] == ["lane.kind"]


def test_a_sysctl_set_by_the_scenario_is_what_one_gates_not_a_new_experiment(data_dir):
    base = rundata.open_run(data_dir / "runs" / "quick-a").head
    cand = copy.deepcopy(base)
    cand["scenarios"]["aggregate-2x"]["definition"]["sysctls"] = {
        "net.ipv4.tcp_congestion_control": "cubic"}
    (d,) = comparability.differences(base, cand, {"aggregate-2x"})
    assert d.policy == "warn" and d.cand == "cubic"
    assert d.key == "scenarios.aggregate-2x.definition.sysctls.net.ipv4.tcp_congestion_control"


def test_interfaces_whose_offloads_differ_are_incomparable(data_dir):
    """GRO/GSO/TSO change what a transfer costs: a difference is another
    experiment; a run from before offloads were read back only warns."""
    base = rundata.open_run(data_dir / "runs" / "quick-a").head
    cand = copy.deepcopy(base)
    cand["scenarios"]["aggregate-2x"]["readback"]["offloads"] = {"server": {"s0": {"gro": True}}}
    (d,) = comparability.differences(base, cand, {"aggregate-2x"})
    assert (d.key, d.policy) == ("scenarios.aggregate-2x.readback.offloads.server.s0.gro", "warn")
    base = copy.deepcopy(cand)
    cand["scenarios"]["aggregate-2x"]["readback"]["offloads"]["server"]["s0"]["gro"] = False
    (d,) = comparability.incomparable(comparability.differences(base, cand, {"aggregate-2x"}))
    assert (d.base, d.cand) == ("yes", "no")
