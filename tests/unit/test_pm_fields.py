"""The path manager's columns from a trial's event timeline, and the
scenario rules of the userspace path manager."""
import pytest

from bench.catalog import Catalog, Scenario
from bench.record import pm_fields
from harness.net import mptcpd


def _conn(established, *joins):
    return {"established_s": established, "subflows": [
        {"established_s": j, "closed_s": None if j is not None else established + 1.0,
         "error": None if j is not None else 111} for j in joins]}


def test_join_times_are_per_connection_from_its_establishment():
    pm = {"path_manager": "userspace", "daemon": {"pid": 1, "cpu_s": 0.02},
          "timeline": {"connections": [_conn(0.100, 0.1021, 0.1050), _conn(0.200, 0.2005),
                                       _conn(0.300, None)], "connections_seen": 3}}
    out = pm_fields.fields(pm, "mptcp")
    assert out["path_manager"] == "userspace" and out["pm_daemon_cpu_s"] == 0.02
    assert out["join_ms"] == pytest.approx((2.1 + 0.5) / 2)   # the first join of each that joined
    assert out["join_ms_max"] == pytest.approx(5.0)
    assert (out["joins"], out["joins_failed"]) == (3, 1)


def test_tcp_and_unwatched_trials_have_no_join_columns():
    assert set(pm_fields.fields({"path_manager": "kernel"}, "tcp").values()) == {None}
    out = pm_fields.fields({"path_manager": "kernel"}, "mptcp")     # crr: not watched
    assert out["path_manager"] == "kernel" and out["join_ms"] is None and out["joins"] is None


def test_scenarios_ask_for_what_their_path_manager_needs():
    cat = Catalog()
    assert "pm-userspace" in cat.scenario("pm-userspace").topology().needs()
    assert "pm-laminar" in cat.scenario("pm-kernel-laminar").topology().needs()
    assert not {"pm-userspace", "pm-laminar"} & cat.scenario("pm-kernel").topology().needs()


def test_the_userspace_path_manager_takes_subflow_and_backup_endpoints_only():
    with pytest.raises(ValueError, match="knows no flag signal"):
        Scenario(description="d", links=[{}, {}], mptcp={
            "path_manager": "userspace", "endpoints": [{"side": "client", "link": 1,
                                                         "flags": ["signal"]}]})
    ok = Scenario(description="d", links=[{}, {}], mptcp={
        "path_manager": "userspace", "endpoints": [{"link": 1, "flags": ["subflow", "backup"]},
                                                   {"side": "server", "link": 1, "flags": ["signal"]}]})
    assert ok.topology().path_manager == "userspace"


def test_a_missing_mptcpd_is_said_with_its_fix(monkeypatch, tmp_path):
    monkeypatch.setenv(mptcpd.BINARY_ENV, str(tmp_path / "nothing"))
    if mptcpd.userspace_sysctl() is None:
        pytest.skip("this kernel has no userspace path manager")
    assert mptcpd.missing() == (f"mptcpd is missing ({tmp_path / 'nothing'}, from "
                                f"{mptcpd.BINARY_ENV}): point {mptcpd.BINARY_ENV} at an mptcpd binary")


class _Rep:
    def __init__(self, doc):
        self.doc, self.figures = doc, []

    def figure(self, name, alt, png):
        self.figures.append((name, png is not None))
        return [f"![{alt}]"]


def _trial(scenario, protocol, pm, **extra):
    return {"scenario": scenario, "protocol": protocol, "driver": "native", "status": "ok",
            "path_manager": pm, **extra}


def test_the_report_sets_the_path_managers_side_by_side():
    tl = {"connections": [_conn(0.1, 0.1003)], "connections_seen": 1}
    doc = {"scenarios": {"pm-kernel": {}, "pm-userspace-crr": {}, "failover": {}},
           "trials": [
               _trial("pm-kernel", "mptcp", "kernel", join_ms=0.3, join_ms_max=0.3, joins=1,
                      joins_failed=0, pm_timeline=tl, flows=1,
                      mib={"client": {"MPTcpExtMPJoinSynTx": 1}}),
               _trial("pm-userspace-crr", "mptcp", "userspace", workload="crr", transactions=4000,
                      transactions_per_s=1000.0, cpu_own_us_per_transaction=190.0,
                      pm_daemon_cpu_s=1.5, mib={"client": {"MPTcpExtMPJoinSynTx": 1000}}),
               _trial("failover", "tcp", None, failover_gap_ms=3290.0),
               _trial("failover", "mptcp", "kernel", failover_gap_ms=90.0),
               {**_trial("failover", "mptcp", "kernel", failover_gap_ms=1.0), "status": "disturbed"}]}
    from bench.report import pm
    rep = _Rep(doc)
    rows = {line.split(" | ")[0] + " | " + line.split(" | ")[1]: line
            for line in pm.section(rep, "native") if line.startswith("| ") and "---" not in line}
    assert "1.00" in rows["| pm-kernel | in-kernel"] and "0.3" in rows["| pm-kernel | in-kernel"]
    crr = rows["| pm-userspace-crr | userspace (mptcpd)"]
    assert "| 0.25 |" in crr and "| 1.50 |" in crr and "| 1.0 |" in crr and "| 190 |" in crr
    assert rows["| failover | in-kernel"].endswith("| 90 |")      # the disturbed one not counted
    assert rows["| failover | TCP"].endswith("| 3290 |")
    assert rep.figures == [("pm-joins", True)]


def test_no_path_manager_section_with_one_path_manager():
    from bench.report import pm
    doc = {"scenarios": {"x": {}}, "trials": [_trial("x", "mptcp", "kernel")]}
    assert pm.section(_Rep(doc), "native") == []
