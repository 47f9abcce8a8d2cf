"""The report's "Under CPU contention" part on a synthetic run: each loaded
scenario against its no-load twin, stalls counted beside the medians."""
import synthetic

from bench import report
from bench.analysis.rundata import RunData
from bench.report import contention


def _doc() -> dict:
    trials = []
    for name, tcp, mptcp in (("one", 16000e6, 9000e6), ("one-rx", 9000e6, 900e6),
                             ("one-tx", 12000e6, 5000e6), ("other", 90e6, 90e6)):
        trials += synthetic.paired(name, [tcp] * 3, [mptcp] * 3,
                                   statuses={("mptcp", 2): "stalled"} if name == "one-rx" else None)
    doc = synthetic.doc(trials)
    for name, cpus in (("one-rx", "receiver"), ("one-tx", "sender")):
        doc["scenarios"][name]["definition"]["load"] = {"cpus": cpus}
    # Same links and workload but a different placement: not a twin of `one`.
    doc["scenarios"]["other"]["definition"]["cpu"] = {"placement": "same"}
    return doc


def test_loaded_scenarios_find_their_no_load_twin():
    assert contention.groups(_doc()) == {"one": {"none": "one", "receiver": "one-rx",
                                                 "sender": "one-tx"}}


def test_each_load_is_set_against_no_load_with_stalls_counted():
    text = report.Report(RunData(_doc())).markdown()
    part = text[text.index("## Under CPU contention"):]
    assert "| one | no load | 16000.0, 3/3 ok | 9000.0, 3/3 ok | ×0.56 |" in part
    assert ("| one | the receiver's CPU | 9000.0 (×0.56), 3/3 ok | 900.0 (×0.10), 2/3 ok, "
            "1 stalled at 900.0 | ×0.10 |") in part
    assert "| one | the sender's CPU | 12000.0 (×0.75), 3/3 ok | 5000.0 (×0.56), 3/3 ok |" in part
    assert "| other |" not in part


def test_a_run_without_a_load_has_no_contention_part():
    doc = synthetic.doc(synthetic.paired("one", [1e9] * 2, [1e9] * 2))
    assert "Under CPU contention" not in report.Report(RunData(doc)).markdown()
