"""Latency statistics on latencies captured from a real RR run."""
import json

import numpy as np
import pytest

from harness.measure import latency


@pytest.fixture
def samples(data_dir) -> np.ndarray:
    doc = json.loads((data_dir / "rr-latency-ns.json").read_text())
    return np.array(doc["latency_ns"], dtype=np.uint64)


def test_percentiles_are_observed_values_in_order(samples):
    s = latency.summarize(samples)
    assert s["transactions"] == len(samples)
    ordered = [s[k] for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")]
    assert ordered == sorted(ordered)
    observed = set((samples / 1e3).tolist())
    assert all(v in observed for v in ordered)   # nearest rank: never interpolated


def test_nearest_rank_definition(samples):
    us = np.sort(samples.astype(float) / 1e3)
    n = len(us)
    for key, q in latency.PERCENTILES.items():
        rank = int(np.ceil(q / 100 * n))          # smallest value with >= q% at or below it
        assert latency.summarize(samples)[f"{key}_us"] == us[rank - 1]


def test_packed_bytes_are_read_without_conversion(samples):
    assert np.array_equal(latency.as_array(samples.tobytes()), samples)


def test_decimation_keeps_order_and_bound(samples):
    kept = latency.decimate(samples, keep=500)
    assert 250 < len(kept) <= 500
    assert kept[0] == round(float(samples[0]) / 1e3, 2)
    step = -(-len(samples) // 500)
    assert kept[1] == round(float(samples[step]) / 1e3, 2)


def test_no_transaction_gives_empty_summary():
    empty = np.array([], dtype=np.uint64)
    s = latency.summarize(empty)
    assert s["transactions"] == 0 and s["p50_us"] is None and s["max_us"] is None
    assert latency.decimate(empty) == []
    assert latency.rate(0, 5, 5) is None and latency.rate(10, 0, 2_000_000_000) == 5.0
