"""The bootstrap drawn through order statistics is the ordinary bootstrap."""
import collections

import numpy as np
import pytest

from bench.analysis import statistics


def test_bootstrap_medians_have_the_resampling_distribution(monkeypatch):
    monkeypatch.setattr(statistics, "N_BOOT", 200_000)
    rng = np.random.default_rng(7)
    for x in (np.array([1.0, 2.0, 4.0, 8.0]), np.array([3.0, 1.0, 2.0, 9.0, 5.0])):
        fast = statistics.Grouped(x, np.zeros(len(x), dtype=int), 1).median_draws()[0]
        naive = np.median(rng.choice(x, size=(200_000, len(x))), axis=1)
        a, b = collections.Counter(fast), collections.Counter(naive)
        for value in set(a) | set(b):
            assert a[value] / 2e5 == pytest.approx(b[value] / 2e5, abs=0.005), value


def test_an_interval_does_not_depend_on_the_groups_beside_it():
    rng = np.random.default_rng(3)
    x, y = rng.normal(10, 1, 6), rng.normal(20, 1, 9)
    alone = statistics.median_ci(x)
    s = statistics.summary(statistics.Grouped(np.concatenate([y, x]), np.array([0] * 9 + [1] * 6), 2))
    assert (s["ci_low"][1], s["ci_high"][1]) == alone
    assert s["median"][1] == np.median(x) and s["q1"][0] == np.percentile(y, 25)


def test_one_value_has_no_interval():
    lo, hi = statistics.median_ci([1.0])
    assert np.isnan(lo) and np.isnan(hi)


def test_change_interval_covers_a_known_shift():
    rng = np.random.default_rng(11)
    base, cand = rng.normal(100, 1, 8), rng.normal(90, 1, 8)
    lo, hi = statistics.change_ci(statistics.Grouped(base, np.zeros(8, int), 1),
                             statistics.Grouped(cand, np.zeros(8, int), 1))
    assert lo[0] < -0.10 < hi[0] and hi[0] < 0


def test_batched_u_tests_equal_scipy_one_by_one():
    from scipy.stats import mannwhitneyu
    rng = np.random.default_rng(2)
    sizes = [(6, 6), (6, 6), (5, 7), (20, 30), (6, 6)]
    a = [rng.normal(0, 1, n).round(1) for n, _ in sizes]       # rounding makes some ties
    b = [rng.normal(0.5, 1, m).round(1) for _, m in sizes]
    codes_a = np.repeat(np.arange(5), [len(x) for x in a])
    codes_b = np.repeat(np.arange(5), [len(x) for x in b])
    p = statistics.u_tests(statistics.Grouped(np.concatenate(a), codes_a, 5),
                      statistics.Grouped(np.concatenate(b), codes_b, 5))
    assert p == pytest.approx([mannwhitneyu(x, y).pvalue for x, y in zip(a, b)])


def test_mann_whitney_small_samples():
    assert statistics.mann_whitney_p([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]) == pytest.approx(2 / 924)
    assert statistics.mann_whitney_p([5, 5, 5], [5, 5, 5]) == 1.0
    assert np.isnan(statistics.mann_whitney_p([1.0], [2.0, 3.0]))
