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
