"""run --profile: perf samples folded, summarised and shown (captured text)."""
from collections import Counter

from bench.report import profile
from harness.measure import profiler

SCRIPT = """worker
\tffffffff8123 tcp_sendmsg_locked
\tffffffff8124 tcp_sendmsg
\tffffffff8125 __x64_sys_sendto

worker
\tffffffff8223 mptcp_sendmsg
\tffffffff8125 __x64_sys_sendto

swapper
\tffffffff8323 pv_native_safe_halt
\tffffffff8324 do_idle

swapper
\tffffffff8423 mptcp_data_ready
\tffffffff8424 net_rx_action
\tffffffff8425 handle_softirqs
\tffffffff8426 __irq_exit_rcu
\tffffffff8324 do_idle

worker
\tffffffff8223 mptcp_sendmsg
\tffffffff8125 __x64_sys_sendto
"""


def test_perf_script_folds_into_root_first_stacks():
    stacks = profiler.fold_script(SCRIPT)
    assert stacks == {
        "worker;__x64_sys_sendto;tcp_sendmsg;tcp_sendmsg_locked": 1,
        "worker;__x64_sys_sendto;mptcp_sendmsg": 2,
        "swapper;do_idle;pv_native_safe_halt": 1,
        "swapper;do_idle;__irq_exit_rcu;handle_softirqs;net_rx_action;mptcp_data_ready": 1}


def test_idle_is_apart_but_softirq_work_on_an_idle_cpu_is_busy():
    s = profiler.summary(profiler.fold_script(SCRIPT))
    assert s["samples"] == 4 and s["idle_samples"] == 1
    assert s["self"] == {"mptcp_sendmsg": 2, "tcp_sendmsg_locked": 1, "mptcp_data_ready": 1}


def _trial(proto, self_counts, samples, per_gb, seq):
    return {"scenario": "s", "driver": "native", "protocol": proto, "status": "ok",
            "cpu_system_outer_s_per_gb": per_gb,
            "profile": {"samples": samples, "idle_samples": 0, "self": self_counts,
                        "folded": f"profiles/{seq}.folded"}}


def test_the_table_puts_symbols_side_by_side_with_the_cost_per_gb():
    doc = {"trials": [_trial("tcp", {"tcp_sendmsg": 50, "copy": 50}, 100, 0.4, 0),
                      _trial("mptcp", {"mptcp_sendmsg": 30, "copy": 70}, 100, 1.0, 1),
                      {**_trial("mptcp", {"x": 1}, 1, 9.0, 2), "status": "stalled"}]}
    lines = profile.table(doc, "s", "native")
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| `")}
    assert rows["`copy`"] == "| `copy` | 50.0% | 70.0% | 0.2000 | 0.7000 | +0.5000 |"
    assert "| – | 30.0% | – | 0.3000 | +0.3000 |" in rows["`mptcp_sendmsg`"]
    assert "`x`" not in rows                       # a stalled trial's samples are not counted
    assert profile.table({"trials": []}, "s", "native") == []


def test_the_flame_graph_is_an_svg_of_the_busy_stacks(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "1.folded").write_text(
        "worker;__x64_sys_sendto;mptcp_sendmsg 2\nswapper;do_idle;pv_native_safe_halt 5\n")
    trials = [_trial("mptcp", {}, 2, 1.0, 1)]
    stacks = profile.merged_stacks(tmp_path, trials)
    assert stacks == Counter({"worker;__x64_sys_sendto;mptcp_sendmsg": 2})
    svg = profile.flame_svg(stacks, "s: MPTCP")
    assert svg.startswith(b"<?xml") and b"<svg" in svg and b"mptcp_sendmsg" in svg
    assert profile.flame_svg(Counter(), "empty") is None
