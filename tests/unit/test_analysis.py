"""Summaries on synthetic trials with known answers; loading real runs."""
import json

import numpy as np
import pytest
import synthetic

from bench import results_format
from bench.analysis import summary
from bench.errors import InputError


def trials(tcp, mptcp, statuses=None):
    return synthetic.paired("s", tcp, mptcp, statuses=statuses)


def test_medians_quartiles_and_counts():
    df = summary.frame(trials([10, 20, 30, 40, 50], [20, 40, 60, 80, 1],
                               {("mptcp", 4): "fallback"}))
    s = summary.summarize(df).set_index("protocol")
    assert s.loc["tcp", "goodput_bps_median"] == 30
    assert s.loc["tcp", "goodput_bps_q1"] == 20 and s.loc["tcp", "goodput_bps_q3"] == 40
    assert s.loc["tcp", "goodput_bps_rel_iqr"] == pytest.approx(20 / 30)
    # The fallback trial is counted, not averaged in.
    assert s.loc["mptcp", "n_ok"] == 4 and s.loc["mptcp", "n_fallback"] == 1
    assert s.loc["mptcp", "goodput_bps_min"] == 20
    assert s.loc["mptcp", "goodput_bps_median"] == 50


def test_describe_is_tidy_with_known_answers():
    d = summary.describe(summary.frame(trials([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])))
    row = d[(d["protocol"] == "tcp") & (d["metric"] == "goodput_bps")].iloc[0]
    assert (row["n"], row["median"], row["q1"], row["q3"], row["min"], row["max"]) == \
        (5, 3, 2, 4, 1, 5)
    assert row["ci_low"] <= 3 <= row["ci_high"]
    ratio = d[(d["protocol"] == summary.RATIO) & (d["metric"] == "goodput_bps")].iloc[0]
    assert ratio["median"] == 2 and ratio["ci_low"] == ratio["ci_high"] == 2
    assert set(d.columns) == {*summary.KEYS, "metric", *summary.STATS}


def test_paired_ratio_uses_only_pairs_where_both_are_ok():
    df = summary.frame(trials([10, 20, 30, 40], [20, 40, 60, 1], {("mptcp", 3): "stalled"}))
    r = summary.paired_ratios(df, "goodput_bps").iloc[0]
    assert r["pairs"] == 3 and r["ratio"] == 2.0
    assert r["ci_low"] == r["ci_high"] == 2.0


def test_intervals_cover_the_true_median_and_ratio():
    """95 % intervals from 10 noisy pairs cover the truth most of the time
    (the percentile bootstrap of a median runs a little short at n=10)."""
    rng = np.random.default_rng(1)
    covered_ratio = covered_median = 0
    for _ in range(200):
        tcp = synthetic.noisy(rng, 50.0, 0.05, 10)
        mptcp = tcp * 1.8 * rng.lognormal(0, 0.05, 10)
        d = summary.describe(summary.frame(trials(tcp, mptcp))).set_index(["protocol", "metric"])
        r, t = d.loc[(summary.RATIO, "goodput_bps")], d.loc[("tcp", "goodput_bps")]
        covered_ratio += r["ci_low"] <= 1.8 <= r["ci_high"]
        covered_median += t["ci_low"] <= 50.0 <= t["ci_high"]
    assert covered_ratio / 200 > 0.88 and covered_median / 200 > 0.88


def test_status_counts_in_run_order_tcp_first():
    ts = synthetic.paired("b", [1, 2], [1, 2]) + synthetic.paired("a", [1], [1], statuses={("tcp", 0): "failed"})
    c = summary.status_counts(summary.frame(ts))
    assert list(zip(c["scenario"], c["protocol"])) == [("b", "tcp"), ("b", "mptcp"),
                                                       ("a", "tcp"), ("a", "mptcp")]
    assert c.loc[2, "n_failed"] == 1 and c.loc[2, "n_ok"] == 0


def test_long_forms_of_intervals_and_latency_samples():
    ts = trials([10, 20], [30, 40])
    ts[0].update(intervals_bytes=[125, 250], interval_s=0.5)
    ts[1].update(latency_samples_us=[10.0, 20.0, 30.0])
    iv, lat = summary.intervals_long(ts), summary.latency_long(ts)
    assert list(iv["t_s"]) == [0.5, 1.0] and list(iv["goodput_bps"]) == [2000, 4000]
    assert (iv["protocol"] == "tcp").all() and (iv["repeat"] == 0).all()
    assert list(lat["latency_us"]) == [10, 20, 30] and (lat["protocol"] == "mptcp").all()
    assert summary.intervals_long([]).empty


def test_load_a_real_run(data_dir):
    run = summary.open_run(data_dir / "runs" / "quick-a")
    df = summary.load(data_dir / "runs" / "quick-a")
    assert len(df) == len(run.doc["trials"]) == 8
    assert set(df["protocol"]) == {"tcp", "mptcp"} and set(df["status"]) == {"ok"}
    assert not run.intervals.empty and run.intervals["t_s"].min() > 0
    assert (run.intervals.groupby("seq")["bytes"].sum() > 0).all()


def _v1_document(tmp_path, data_dir):
    """A copy of a real v1 run, rewritten as if version 1 had named the
    goodput field differently: what a future format change looks like."""
    src = data_dir / "runs" / "quick-a" / "results.json"
    doc = json.loads(src.read_text())
    for t in doc["trials"]:
        t["goodput_mbit"] = t.pop("goodput_bps") / 1e6
    (tmp_path / "results.json").write_text(json.dumps(doc))
    return doc


def test_older_schema_is_upgraded_on_load(tmp_path, data_dir, monkeypatch):
    old = _v1_document(tmp_path, data_dir)

    def v1_to_v2(doc):
        for t in doc["trials"]:
            t["goodput_bps"] = t.pop("goodput_mbit") * 1e6
        return {**doc, "schema_version": 2}

    monkeypatch.setattr(results_format, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(results_format.UPGRADES, 1, v1_to_v2)
    df = summary.load(tmp_path)
    assert df["goodput_bps"].tolist() == pytest.approx([t["goodput_mbit"] * 1e6 for t in old["trials"]])


def test_newer_or_unknown_old_schema_is_refused(tmp_path, data_dir, monkeypatch):
    _v1_document(tmp_path, data_dir)
    with pytest.raises(InputError, match="newer mptcp-bench"):
        monkeypatch.setattr(results_format, "SCHEMA_VERSION", 0)
        summary.load(tmp_path)
    monkeypatch.setattr(results_format, "SCHEMA_VERSION", 2)
    monkeypatch.delitem(results_format.UPGRADES, 1)
    with pytest.raises(InputError, match="no upgrade from schema 1"):
        summary.load(tmp_path)


def test_a_directory_without_results_is_refused(tmp_path):
    with pytest.raises(InputError, match="is this a run directory"):
        summary.load(tmp_path)
