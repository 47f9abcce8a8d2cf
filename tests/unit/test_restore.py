"""When a restored path carries data again, on recorded series."""
import pytest

from bench.record import restore
from bench.report import blackhole, handover


def _events(down_s: float, up_s: float, link: int = 0) -> list[dict]:
    return [{"action": "down", "link": link, "at_s_from_first_byte": down_s, "error": None},
            {"action": "up", "link": link, "at_s_from_first_byte": up_s, "error": None}]


def test_subflows_are_summed_per_link_of_their_local_address():
    rec = {"subflow_intervals_keys": ["198.18.0.1:4000 → 198.19.0.1:5201",
                                      "198.18.1.1:4001 → 198.19.0.1:5201",
                                      "198.18.0.1:4002 → 198.19.0.1:5201"],
           "subflow_intervals_bytes": [[5, 0, 0], [1, 1, 1], [0, 0, 7]]}
    assert restore.link_series(rec, "198.18.0.1:4000") == {0: [5, 0, 7], 1: [1, 1, 1]}


def test_a_single_path_connection_is_on_its_senders_link():
    rec = {"intervals_bytes": [3, 4]}
    assert restore.link_series(rec, "198.18.0.1:4000") == {0: [3, 4]}
    assert restore.link_series(rec, "[2001:2:0:101::1]:4000") == {1: [3, 4]}
    assert restore.link_series(rec, None) == {}


def test_first_data_after_the_restore():
    # 10 ms intervals: link 0 down at 0.50 s, up at 1.50 s, data again from 1.80 s
    series = {0: [9] * 50 + [0] * 130 + [9] * 100 + [1], 1: [9] * 281}
    (r,) = restore.restores(_events(0.50, 1.50), series, 0.01)
    assert r["link"] == 0 and r["down_s"] == pytest.approx(1.0)
    assert r["first_data_s"] == pytest.approx(0.30)
    assert r["watched_s"] == pytest.approx(1.30)


def test_a_lone_probe_is_not_the_path_used_again():
    # 11 kB in one interval 0.25 s after the restore, then nothing for 2 s
    series = {0: [9] * 50 + [0] * 125 + [11000] + [0] * 200 + [9] * 100 + [1]}
    (r,) = restore.restores(_events(0.50, 1.50), series, 0.01)
    assert r["first_data_s"] == pytest.approx(2.26)


def test_a_path_left_unused_says_how_long_it_was_watched():
    series = {0: [9] * 50 + [0] * 230 + [1]}
    (r,) = restore.restores(_events(0.50, 1.50), series, 0.01)
    assert r["first_data_s"] is None and r["watched_s"] == pytest.approx(1.30)


def test_nothing_is_said_without_a_down_before_the_up_or_a_path_on_the_link():
    series = {0: [9] * 100}
    assert restore.restores([_events(0.5, 0.7)[1]], series, 0.01) == []
    assert restore.restores(_events(0.5, 0.7, link=1), series, 0.01) == []
    assert restore.restores(_events(0.5, 5.0), series, 0.01) == []     # up after the series
    failed = [{**ev, "error": "no such device"} for ev in _events(0.5, 0.7)]
    assert restore.restores(failed, series, 0.01) == []


def test_record_fields_name_the_first_restore():
    rec = {"interval_s": 0.01, "intervals_bytes": [9] * 50 + [0] * 230 + [1],
           "events": _events(0.50, 1.50)}
    out = restore.fields(rec, "198.18.0.1:4000")
    assert out["restore_unused"] is True and out["restore_first_data_s"] is None
    assert restore.fields({**rec, "events": []}, "198.18.0.1:4000") == {}


def _trial(protocol: str, first_data_s, status: str = "ok") -> dict:
    return {"scenario": "restore-1s", "driver": "native", "protocol": protocol, "status": status,
            "restores": [{"link": 0, "down_s": 1.0, "first_data_s": first_data_s, "watched_s": 5.5}]}


def test_the_answer_counts_every_trial_and_says_the_unused_ones():
    trials = [_trial("tcp", 0.4, "stalled"), _trial("tcp", 0.6, "stalled"), _trial("tcp", 9, "disturbed"),
              _trial("mptcp", 0.2), _trial("mptcp", None)]
    text = handover.restored(trials, "restore-1s", "native")
    assert text.startswith("link 0 came back after a 1.0-s outage")
    assert "TCP used it again after 0.50 s (median, 0.40–0.60) in 2 of 2 trials" in text
    assert "MPTCP used it again after 0.20 s (median) in 1 of 2 trials" in text
    assert "never used it again in 1 of 2 trials (watched 5.5 s after the restore)" in text
    assert handover.restored(trials, "other", "native") is None


def test_a_blackhole_answer_gives_connect_times_in_trial_order_and_the_mib():
    def t(seq, protocol, ms, status, mib=None):
        return {"scenario": "bh", "driver": "native", "protocol": protocol, "seq": seq,
                "status": status, "connect_ms": ms, "mib": {"client": mib or {}}}
    doc = {"scenarios": {"bh": {"definition": {"middlebox": {"drop_syn": ["mp_capable"]}}},
                         "plain": {"definition": {"middlebox": {"drop_syn": []}}}},
           "trials": [t(3, "mptcp", 0.31, "fallback", {"MPTcpExtMPCapableSYNTXDisabled": 1}),
                      t(0, "tcp", 0.2, "ok"), t(2, "tcp", 0.4, "ok"),
                      t(1, "mptcp", 3012.0, "fallback", {"MPTcpExtMPCapableSYNTXDrop": 1,
                                                          "MPTcpExtBlackhole": 1})]}
    text = blackhole.connects(doc, "bh", "native")
    assert text == ("connect() took TCP median 0.30 ms; MPTCP 3012 ms, 0.31 ms in trial order "
                    "(fallback); client MIB over the MPTCP trials: MPCapableSYNTXDrop 1, "
                    "Blackhole 1, MPCapableSYNTXDisabled 1")
    assert blackhole.connects(doc, "plain", "native") is None


def test_a_new_address_is_a_loss_and_a_restore_at_once():
    # 10 ms intervals: the address on link 0 changes at 1.00 s; a subflow from
    # the new address (same subnet, so the same link) carries data from 1.20 s
    series = {0: [9] * 100 + [0] * 20 + [9] * 60 + [1], 1: [9] * 181}
    ev = [{"action": "readdress_pm", "link": 0, "at_s_from_first_byte": 1.0, "error": None}]
    (r,) = restore.restores(ev, series, 0.01)
    assert r["down_s"] == 0 and r["first_data_s"] == pytest.approx(0.20)
    unused = {0: [9] * 100 + [0] * 80 + [0], 1: [9] * 181}
    (r,) = restore.restores([{**ev[0], "action": "readdress"}], unused, 0.01)
    assert r["first_data_s"] is None and r["watched_s"] == pytest.approx(0.80)


def test_the_spare_address_is_on_the_same_link():
    from harness.net import addressing
    for family in (4, 6):
        spare = addressing.client_subnet(1, family).spare
        assert addressing.link_of(spare) == 1 and spare != addressing.client_subnet(1, family).host


def test_the_answer_says_an_address_changed():
    rows = [{"scenario": "rd", "driver": "native", "protocol": "mptcp", "status": "ok",
             "restores": [{"link": 0, "after": "readdress", "down_s": 0.0, "first_data_s": None,
                           "watched_s": 4.5}]}]
    text = handover.restored(rows, "rd", "native")
    assert text.startswith("the client's address on link 0 changed, its path manager not told: ")
    assert "never used it again in 1 of 1 trials" in text


def test_after_an_address_change_the_old_address_does_not_count():
    # The old subflow's in-flight data is acked for 0.5 s after the change;
    # the new one (the spare address) starts at 0.3 s after it.
    rec = {"interval_s": 0.01,
           "events": [{"action": "readdress_pm", "link": 0, "at_s_from_first_byte": 1.0, "error": None}],
           "subflow_intervals_keys": ["198.18.0.1:4000 → 198.19.0.1:5201",
                                      "198.18.0.3:4002 → 198.19.0.1:5201"],
           "subflow_intervals_bytes": [[9] * 150 + [0] * 51, [0] * 130 + [9] * 71]}
    out = restore.fields(rec, "198.18.0.1:4000")
    assert out["restore_first_data_s"] == pytest.approx(0.30)
    assert restore.fields({**rec, "subflow_intervals_bytes": [[9] * 150 + [0] * 51, [0] * 201]},
                          "198.18.0.1:4000")["restore_unused"] is True
