import pytest

from bench.record import failover


def test_gap_and_recovery_of_a_path_failure():
    # 10 ms intervals: 1 MB each, the path fails at 0.5 s, nothing for 230 ms,
    # then the surviving path delivers half the rate.
    series = [1000] * 50 + [0] * 23 + [500] * 40 + [3]
    m = failover.metrics(series, 0.01, 0.5)
    assert m["gap_ms"] == pytest.approx(230)
    assert m["recover_s"] == pytest.approx(0.23)


def test_a_seamless_failover_has_no_gap():
    m = failover.metrics([1000] * 50 + [600] * 50 + [1], 0.01, 0.5)
    assert m == {"gap_ms": 0, "recover_s": 0.0}


def test_never_recovering_is_none():
    m = failover.metrics([1000] * 50 + [0] * 50 + [0], 0.01, 0.5)
    assert m["gap_ms"] == pytest.approx(500) and m["recover_s"] is None


def test_event_outside_the_series():
    assert failover.metrics([1000] * 10, 0.01, 5.0) is None
    assert failover.metrics([1000] * 10, 0.01, -1.0) is None


def test_a_paced_rr_series_keeps_the_gap_and_no_recovery():
    # One transaction every 100 ms (10-ms intervals); the path fails at 1.0 s
    # and no transaction completes for the 0.8 s after it.
    series = ([1] + [0] * 9) * 10 + [0] * 80 + ([1] + [0] * 9) * 5 + [0]
    rec = {"events": [{"action": "down", "link": 0, "at_ns": 1_000_000_000 + 10_000_000, "error": None}]}
    loop = {"first_ns": 10_000_000, "interval_ns": 10_000_000}
    failover.place(rec, loop, series, recovery=False)
    assert rec["failover_gap_ms"] == pytest.approx(800) and rec["failover_recover_s"] is None
