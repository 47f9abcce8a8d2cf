"""The engine at scale, on captured /proc files and synthetic runs: the
memory of a connection's sockets, the hold workload's record, every MPTCP
connection verified through the MIB, the scenario limits, and the report's
curves against the connection count."""
import pytest
import synthetic

from bench import catalog, report
from bench.analysis.rundata import RunData
from bench.record import trial, workload_fields
from bench.report import scaling
from harness import limits
from harness.measure import kmem


@pytest.fixture
def proc(data_dir):
    return {"protocols": kmem.parse_protocols((data_dir / "kmem/protocols.txt").read_text()),
            "caches": kmem.parse_slabinfo((data_dir / "kmem/slabinfo.txt").read_text()),
            "slab_bytes": 500 << 20}


def test_protocols_and_slab_caches_parse(proc):
    # captured on kernel 6.18: the structures' sizes and the caches' object sizes
    assert proc["protocols"]["TCP"][1] == 2304 and proc["protocols"]["MPTCP"][1] == 1936
    assert proc["caches"]["TCP"][1] == 2368 and proc["caches"]["MPTCP"][1] == 1984


def test_socket_memory_is_sockets_gained_times_the_cache_object_size(proc):
    after = {**proc, "protocols": dict(proc["protocols"]), "slab_bytes": (500 << 20) + 70_000}
    tcp, mptcp = proc["protocols"]["TCP"], proc["protocols"]["MPTCP"]
    after["protocols"]["TCP"] = (tcp[0] + 20, tcp[1])        # 2 subflows x 10 connections
    after["protocols"]["MPTCP"] = (mptcp[0] + 10, mptcp[1])
    d = kmem.delta(proc, after)
    assert d["sockets"] == {"TCP": 20, "MPTCP": 10}
    assert d["socket_bytes"] == 20 * 2368 + 10 * 1984
    assert d["slab_bytes"] == 70_000


def test_a_protocol_without_a_cache_counts_its_structure_size(proc):
    before = {**proc, "protocols": {"SCTP": (0, 1500)}}
    after = {**proc, "protocols": {"SCTP": (4, 1500)}}
    assert kmem.delta(before, after)["socket_bytes"] == 4 * 1500


def test_settled_waits_until_the_counts_hold_still(monkeypatch, proc):
    counts = iter([5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    seen, snapshots = [], []

    def count():
        n = next(counts)
        seen.append(n)
        return {"MPTCP": n}
    monkeypatch.setattr(kmem, "_counts", count)
    monkeypatch.setattr(kmem, "snapshot", lambda: snapshots.append(seen[-1]) or
                        {**proc, "protocols": {"MPTCP": (seen[-1], 1936)}})
    monkeypatch.setattr(kmem.time, "sleep", lambda s: None)
    clock = iter(range(0, 1000))
    monkeypatch.setattr(kmem.time, "monotonic", lambda: next(clock) * 0.1)
    got = kmem.settled(quiet_s=0.3, timeout_s=50)
    # the counts are polled until they hold still, the whole snapshot taken once
    assert got["protocols"]["MPTCP"][0] == 3 and seen[:3] == [5, 4, 3]
    assert snapshots == [3]


def _raw(n=100, mp_capable=100, joins=100, protocol="mptcp", syns=None):
    mem = {"sockets": {"MPTCP": n, "TCP": 2 * n}, "socket_bytes": n * (1984 + 2 * 2368),
           "slab_bytes": 1 << 20, "top_caches": [["TCP", 473600]]}
    system = {"busy_s": 0.02, "softirq_s": 0.0, "steal_s": 0.0, "wall_s": 1.1,
              "own": {"cgroup_s": 0.015, "ksoftirqd_s": {}}}
    info = {"so_protocol": 262 if protocol == "mptcp" else 6,
            "mptcp_info": {"subflows": 1, "fallback": False}}
    return {"params": {"protocol": protocol, "family": 4, "flows": n, "workload": "hold",
                       "cpu_sender": 0, "cpu_receiver": 1},
            "driver": "native", "started_at": 0.0, "error": None, "events": [],
            "outer_window": system,
            "mib": {"client": {"MPTcpExtMPCapableSYNACKRX": mp_capable,
                               "MPTcpExtMPJoinSynTx": joins if syns is None else syns[0]},
                    "server": {"MPTcpExtMPCapableACKRX": mp_capable, "MPTcpExtMPJoinAckRx": joins,
                               "MPTcpExtMPJoinSynRx": joins if syns is None else syns[1]}},
            "sender": {"system": system, "cpu_s": 0.01, "window_ns": 1_100_000_000,
                       "connect_ns": 2_000_000, "connections": n, "memory": mem, "info": info},
            "receiver": {"connections": n, "accepted_after_first": n - 1, "accept_ns": 990_000,
                         "hold_s": 1.0, "memory": mem, "cpu_s": 0.004, "info": info}}


def _scenario(flows=100):
    return catalog.Scenario(name="scale-hold-2l-100", description="d", links=({}, {}),
                            workload={"kind": "hold", "flows": flows})


def test_a_hold_record_states_memory_accept_rate_and_cpu_per_connection():
    rec = trial.build(_raw(), _scenario(), "mptcp", run_id="r", repeat=0, seq=0)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["connections"] == 100
    assert rec["conn_mem_bytes"] == 2 * (1984 + 2 * 2368)            # both ends
    assert rec["accept_per_s"] == pytest.approx(99 / 0.99e-3)
    assert rec["connect_per_s"] == pytest.approx(100 / 2e-3)
    assert rec["cpu_own_us_per_connection"] == pytest.approx(0.015e6 / 100)
    assert rec["mptcp_connections"] == {"connections": 100, "mp_capable": 100, "joins": 100,
                                        "joins_expected": 100, "join_syns_sent": 100,
                                        "join_syns_received": 100}


def test_every_connection_is_verified_not_only_the_one_introspected():
    rec = trial.build(_raw(mp_capable=97), _scenario(), "mptcp", run_id="r", repeat=0, seq=0)
    assert rec["status"] == "fallback" and "97 of 100 connections" in rec["reason"]
    rec = trial.build(_raw(joins=60), _scenario(), "mptcp", run_id="r", repeat=0, seq=0)
    assert rec["status"] == "partial" and "60 of 100 expected joins" in rec["reason"]


@pytest.mark.parametrize("syns, where", [
    ((60, 60), "the client's path manager sent fewer MP_JOIN SYNs (MPJoinSynTx 60"),
    ((100, 70), "join SYNs were lost on the way"),
    ((100, 100), "the server completed fewer join handshakes than it received"),
])
def test_a_partial_trial_names_where_the_joins_stopped(syns, where):
    rec = trial.build(_raw(joins=60, syns=syns), _scenario(), "mptcp", run_id="r", repeat=0, seq=0)
    assert rec["status"] == "partial" and where in rec["reason"]


def test_hold_columns_are_empty_for_other_workloads():
    assert all(workload_fields.base({"workload": "bulk"})[c] is None
               for c in workload_fields.HOLD_COLUMNS)


def test_many_connections_get_a_backlog_for_all_of_them_in_their_namespaces():
    big = catalog.Scenario(name="x", description="d", links=({},), workload={"flows": 10_000})
    assert dict(big.topology().sysctls)["net.core.somaxconn"] == "10000"
    assert dict(big.topology().sysctls)["net.ipv4.tcp_max_syn_backlog"] == "10000"
    mine = catalog.Scenario(name="x", description="d", links=({},), workload={"flows": 5000},
                            sysctls={"net.core.somaxconn": 8192})
    assert dict(mine.topology().sysctls)["net.core.somaxconn"] == "8192"   # the scenario's wins
    small = catalog.Scenario(name="x", description="d", links=({},),
                             workload={"flows": limits.DEFAULT_BACKLOG})
    assert "net.core.somaxconn" not in dict(small.topology().sysctls)


def _curve_doc() -> dict:
    trials = []
    for n in (1, 16, 256):
        name = f"hold-{n}"
        trials += synthetic.paired(name, [4736.0] * 3, [13440.0] * 3, metric="conn_mem_bytes",
                                   workload="hold", goodput_bps=None,
                                   statuses={("mptcp", 1): "partial"} if n == 256 else None)
    doc = synthetic.doc(trials)
    for n in (1, 16, 256):
        d = doc["scenarios"][f"hold-{n}"]["definition"]
        d["workload"] = {"kind": "hold", **({"flows": n} if n > 1 else {})}
    return doc


def test_scenarios_differing_only_in_connections_form_a_curve():
    doc = _curve_doc()
    assert scaling.curves(doc) == [("hold-1 … hold-256", [(1, "hold-1"), (16, "hold-16"),
                                                          (256, "hold-256")])]
    doc["scenarios"]["hold-256"]["definition"]["expect"] = {"mptcp": ["ok", "partial"]}
    assert len(scaling.curves(doc)) == 1                              # still the same curve
    doc["scenarios"]["hold-16"]["definition"]["links"] = [{}]        # another topology
    assert scaling.curves(doc) == []


def test_the_report_gives_each_metric_against_the_connection_count():
    rep = report.Report(RunData(_curve_doc()))
    text = rep.markdown()
    part = text[text.index("## Against the connection count"):]
    assert "| connections | socket memory per connection (KiB) TCP / MPTCP |" in part
    assert "| 16 | 4.6 / 13.1 | 0 / 0 |" in part
    assert "| 256 | 4.6 / 13.1 | 0 / 1 partial |" in part
    assert any(name.startswith("plots/scaling-hold-1") for name in rep.figures)
