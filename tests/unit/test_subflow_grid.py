"""Per-subflow counters put on the receiver's grid (bench.record.subflow_grid)."""
from bench.record.subflow_grid import on_grid

MS = 1_000_000


def test_two_steady_subflows_split_each_interval_by_their_rates():
    # Samples every 100 ms; subflow A acks 1000 B/ms, B 500 B/ms.
    t = [i * 100 * MS for i in range(11)]
    series = {"t_ns": t, "subflows": [
        {"local": "a", "remote": "s", "bytes_acked": [i * 100_000 for i in range(11)]},
        {"local": "b", "remote": "s", "bytes_acked": [i * 50_000 for i in range(11)]}]}
    per = on_grid(series, start_ns=0, interval_ns=100 * MS, n=10)
    assert per == [[100_000] * 10, [50_000] * 10]


def test_grid_offset_from_the_samples_is_interpolated():
    series = {"t_ns": [0, 100 * MS, 200 * MS], "subflows": [
        {"local": "a", "remote": "s", "bytes_acked": [0, 1000, 2000]}]}
    assert on_grid(series, start_ns=50 * MS, interval_ns=100 * MS, n=1) == [[1000]]


def test_a_subflow_that_appears_late_counts_zero_before_and_one_that_closes_keeps_its_count():
    t = [i * 100 * MS for i in range(5)]
    series = {"t_ns": t, "subflows": [
        # the first path carries until 200 ms then is gone (its last count repeats)
        {"local": "a", "remote": "s", "bytes_acked": [0, 100, 200, 200, 200]},
        # the second appears at 200 ms
        {"local": "b", "remote": "s", "bytes_acked": [None, None, 0, 300, 600]}]}
    per = on_grid(series, start_ns=0, interval_ns=100 * MS, n=4)
    assert per[0] == [100, 100, 0, 0]
    assert per[1] == [0, 0, 300, 300]


def test_too_few_samples_or_no_intervals_give_nothing():
    one = {"t_ns": [0], "subflows": [{"local": "a", "remote": "s", "bytes_acked": [5]}]}
    assert on_grid(one, 0, 100 * MS, 3) is None
    two = {"t_ns": [0, MS], "subflows": [{"local": "a", "remote": "s", "bytes_acked": [0, 5]}]}
    assert on_grid(two, 0, 100 * MS, 0) is None
