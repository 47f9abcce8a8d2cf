"""Small-sample statistics over many groups at once: quantiles, bootstrap
intervals of medians and of their ratio, the Mann-Whitney U test, and
Fisher's exact test of not-ok trial counts.

Values are held sorted within their group (`Grouped`), which every
statistic here reads; nothing loops over groups in Python but the U test,
and that only over distinct sample sizes.

The bootstrap is the ordinary percentile bootstrap of the median, drawn
without materialising resamples.  The k-th order statistic of a resample
of n values from the empirical distribution is x_(ceil(n U)), where U is
the k-th order statistic of n uniforms, i.e. Beta(k, n-k+1); for an even n
the next order statistic is U + (1-U) Beta(1, n-k).  So one bootstrap
median costs two Beta draws instead of n draws and a partition.

Draws are seeded by (SEED, n, stream): an interval depends only on its own
values, never on which other groups were computed beside it, so a report
re-rendered from the same data states the same interval.  `stream` keeps
the two sides of a ratio independent.
"""
from __future__ import annotations

import warnings

import numpy as np

SEED = 20261128
N_BOOT = 2000
LEVEL = 0.95


class Grouped:
    """Values sorted within groups 0..n_groups-1."""

    def __init__(self, values, codes, n_groups: int):
        values = np.asarray(values, dtype=float)
        codes = np.asarray(codes, dtype=np.int64)
        by_value = np.argsort(values)
        # A stable sort of the codes keeps values in order within a group
        # (twice as fast as np.lexsort; radix sort when codes fit 16 bits).
        small = codes.astype(np.int16) if n_groups < 2 ** 15 else codes
        self.v = values[by_value[np.argsort(small[by_value], kind="stable")]]
        self.n = np.bincount(codes, minlength=n_groups)
        self.start = np.concatenate([[0], np.cumsum(self.n)[:-1]]).astype(np.int64)

    def quantile(self, q: float) -> np.ndarray:
        """Linear interpolation between order statistics (numpy's and
        pandas' default); NaN for an empty group."""
        out = np.full(len(self.n), np.nan)
        has = self.n > 0
        pos = q * (self.n[has] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, self.n[has] - 1)
        a, b = self.v[self.start[has] + lo], self.v[self.start[has] + hi]
        out[has] = a + (b - a) * (pos - lo)
        return out

    def group(self, i: int) -> np.ndarray:
        return self.v[self.start[i]:self.start[i] + self.n[i]]

    def median_draws(self, stream: int = 0) -> np.ndarray:
        """Bootstrap medians, shape (groups, N_BOOT); NaN rows where a group
        has fewer than two values (one trial has no interval)."""
        out = np.full((len(self.n), N_BOOT), np.nan)
        for size in np.unique(self.n[self.n >= 2]):
            groups = np.flatnonzero(self.n == size)
            i1, i2 = _order_stat_draws(int(size), stream)
            base = self.start[groups][:, None]
            out[groups] = (self.v[base + i1] + self.v[base + i2]) / 2
        return out


def _order_stat_draws(n: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based indices of the two middle order statistics of N_BOOT
    bootstrap resamples of size n (equal when n is odd)."""
    rng = np.random.default_rng([SEED, n, stream])
    k = (n + 1) // 2
    u1 = rng.beta(k, n - k + 1, N_BOOT)
    u2 = u1 + (1 - u1) * rng.beta(1, max(n - k, 1), N_BOOT)
    i1 = np.clip(np.ceil(n * u1).astype(np.int64) - 1, 0, n - 1)
    i2 = np.clip(np.ceil(n * u2).astype(np.int64) - 1, 0, n - 1) if n % 2 == 0 else i1
    return i1, i2


def _interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - LEVEL) / 2 * 100
    out = np.full((2, len(draws)), np.nan)
    nans = np.isnan(draws)
    full = ~nans.any(axis=1)
    if full.any():
        out[:, full] = np.percentile(draws[full], [tail, 100 - tail], axis=1)
    partial = ~full & ~nans.all(axis=1)      # a ratio with a zero base in some draws
    if partial.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[:, partial] = np.nanpercentile(draws[partial], [tail, 100 - tail], axis=1)
    return out[0], out[1]


def summary(g: Grouped) -> dict[str, np.ndarray]:
    """n, median, quartiles, min, max and the median's 95 % interval."""
    lo, hi = _interval(g.median_draws())
    return {"n": g.n, "median": g.quantile(0.5), "q1": g.quantile(0.25),
            "q3": g.quantile(0.75), "min": g.quantile(0.0), "max": g.quantile(1.0),
            "ci_low": lo, "ci_high": hi}


def median_ci(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    lo, hi = _interval(Grouped(values, np.zeros(len(values), dtype=np.int64), 1).median_draws())
    return float(lo[0]), float(hi[0])


def change_ci(base: Grouped, cand: Grouped) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval of median(cand) / median(base) - 1 per group, both
    sides resampled independently."""
    b, c = base.median_draws(stream=1), cand.median_draws(stream=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(b != 0, c / b - 1, np.nan)
    return _interval(change)


def mann_whitney_p(a, b) -> float:
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    return float(u_tests(Grouped(a, np.zeros(len(a), int), 1),
                         Grouped(b, np.zeros(len(b), int), 1))[0])


def u_tests(base: Grouped, cand: Grouped) -> np.ndarray:
    """Two-sided Mann-Whitney U p-value per group, as scipy's "auto" picks
    it for each (exact for 8 values or fewer on a side without ties); NaN
    where a side has fewer than two values, 1 where all values are equal.
    Groups of equal sizes and method go to scipy in one batch."""
    p = np.full(len(base.n), np.nan)
    buckets: dict[tuple, list[int]] = {}
    for i in np.flatnonzero((base.n >= 2) & (cand.n >= 2)):
        both = np.concatenate([base.group(i), cand.group(i)])
        if both.min() == both.max():
            p[i] = 1.0
            continue
        small = min(base.n[i], cand.n[i]) <= 8
        ties = small and len(np.unique(both)) < len(both)
        method = "exact" if small and not ties else "asymptotic"
        buckets.setdefault((base.n[i], cand.n[i], method), []).append(i)
    from scipy.stats import mannwhitneyu  # here: scipy takes a while to import
    for (_, _, method), idx in buckets.items():
        x = np.vstack([base.group(i) for i in idx])
        y = np.vstack([cand.group(i) for i in idx])
        p[idx] = mannwhitneyu(x, y, alternative="two-sided", method=method, axis=1).pvalue
    return p


def more_bad_p(cand_bad: int, cand_n: int, base_bad: int, base_n: int) -> float:
    """Fisher's exact test, one-sided: the p-value that the candidate's share
    of not-ok trials is no larger than the base's (one stall among six
    trials proves nothing; six fallbacks do)."""
    from scipy.stats import fisher_exact
    table = [[cand_bad, cand_n - cand_bad], [base_bad, base_n - base_bad]]
    return float(fisher_exact(table, alternative="greater").pvalue)
