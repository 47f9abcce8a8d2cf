"""Engine modes chosen per scenario and protocol from a calibration."""
import pytest

from bench.catalog import Catalog
from bench.errors import InputError
from bench.report import sections
from bench.run import calibrate
from bench.run.plan import build_plan

G = 1e9


def result(modes, goodputs, statuses=None):
    return {"modes": modes, "goodput_bps": goodputs,
            "statuses": statuses or ["ok"] * len(goodputs)}


def test_the_highest_median_wins_and_the_reason_names_the_others():
    best, why = calibrate.choose([result({"recv_lowat_kib": 0}, [6.8 * G, 6.5 * G, 7.0 * G]),
                                  result({"recv_lowat_kib": 1024}, [2.2 * G, 9 * G, 2.0 * G])])
    assert best == 0
    assert why.startswith("highest median goodput of the candidates: 6.80 Gbit/s")
    assert "recv_lowat_kib=1024 2.20" in why


def test_a_candidate_with_a_stalled_or_failed_trial_does_not_compete():
    best, why = calibrate.choose([
        result({"a": 1}, [9 * G, 9 * G, 0.2 * G], ["ok", "ok", "stalled"]),
        result({"a": 2}, [5 * G, 5 * G, 5 * G])])
    assert best == 1 and "(1 not ok)" in why


def test_when_none_is_clean_the_most_ok_wins():
    best, why = calibrate.choose([result({"a": 1}, [9 * G, None], ["ok", "unsupported"]),
                                  result({"a": 2}, [1 * G, None], ["unsupported"] * 2)])
    assert best == 0 and "none was ok in every trial" in why


def test_the_chosen_modes_apply_to_that_scenario_driver_and_protocol_only(catalog):
    plan = build_plan(catalog, "engine-vs-iperf3", [], None, None, None)
    s = plan.scenarios[0]
    _, candidates = plan.candidates(s, "native")
    assert {"recv_lowat_kib": 0} in candidates and len(candidates) >= 2
    assert plan.candidates(s, "iperf3")[1] == []
    plan.chosen[(s.name, "native", "mptcp")] = {"recv_lowat_kib": 256}
    assert plan.params(s, "native", "mptcp").recv_lowat == 256 * 1024
    assert plan.params(s, "native", "tcp").recv_lowat == 0
    assert plan.params(s, "native", "mptcp").recv_mode == "trunc"    # the suite's fixed mode
    assert plan.params(s, "native", "tcp", modes={"recv_lowat_kib": 1024}).recv_lowat == 1 << 20
    assert plan.params(s, "native", "tcp", modes={"bufsize_kib": 512}).bufsize == 512 * 1024


def test_candidates_are_validated(write_defs):
    path = write_defs('[suite.s]\ndescription = "d"\nscenarios = ["single-link"]\n'
                      'driver_modes = { native = { candidates = [{ recv_mode = "telepathy" }] } }\n')
    with pytest.raises(InputError, match="receive mode"):
        Catalog([path])


def test_the_report_shows_every_candidate_and_the_choice():
    entry = {"calibration": {"native": {"mptcp": {
        "candidates": [result({"recv_lowat_kib": 0}, [6 * G, 7 * G, 8 * G]),
                       result({"recv_lowat_kib": 1024}, [2 * G, 2 * G, 3 * G], ["ok"] * 3)],
        "chosen": {"recv_lowat_kib": 0}, "why": "w"}}, "iperf3": {}}}
    text = "\n".join(sections.calibration(entry))
    assert "| native | MPTCP | recv_lowat_kib=0 | 7.00 Gbit/s | 3/3 | **chosen** |" in text
    assert "| native | MPTCP | recv_lowat_kib=1024 | 2.00 Gbit/s | 3/3 |  |" in text
    assert sections.calibration({"calibration": {"native": {}}}) == []
