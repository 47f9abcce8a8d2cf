"""The history store, change points, the trend dashboard and the
history-aware gate, on synthetic runs with known answers."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import browser
import numpy as np
import pytest
import synthetic

from bench.analysis import open_run
from bench.cli import main
from bench.errors import InputError
from bench.history import changepoints, dashboard, series, trend
from bench.history import gate as hgate
from bench.history.store import FILE, Store

SCENARIO = "calib-2x"


def write_run(root: Path, i: int, tcp: float, mptcp: float, rng, kernel="6.18.44",
              rate_mbit=50.0, hostname="bench-a", statuses=None, rel_sd=0.003, repeats=6) -> Path:
    """A run directory of the gate suite's shape: `repeats` paired trials
    around the given goodputs (bit/s), and a report.html to link to."""
    trials = synthetic.paired(SCENARIO, synthetic.noisy(rng, tcp, rel_sd, repeats),
                              synthetic.noisy(rng, mptcp, rel_sd, repeats), statuses=statuses)
    doc = synthetic.doc(trials, run_id=f"r{i:03d}", repeat=repeats, rate_mbit=rate_mbit,
                        kernel=kernel)
    doc["metadata"].update(started=f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00+0000",
                           hostname=hostname)
    path = root / f"run-{i:03d}"
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(doc))
    (path / "report.html").write_text(f"<!DOCTYPE html><title>run {i}</title>")
    return path


def store_of(tmp_path: Path, mptcp_levels: list[float], seed: int = 1, **kw) -> Path:
    rng = np.random.default_rng(seed)
    store = tmp_path / "store"
    dirs = [write_run(tmp_path / "runs", i, 47.8e6, level, rng, **kw)
            for i, level in enumerate(mptcp_levels)]
    assert main(["history", "add", *map(str, dirs), "--store", str(store)]) == 0
    return store


# Change points on synthetic series -----------------------------------------

def test_a_step_is_found_at_the_run_where_it_happened():
    """A 5 % loss in 1 % run-to-run noise (5 sigma), 50 series."""
    at = near = extra = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        medians = np.r_[rng.normal(100, 1, 25), rng.normal(95, 1, 15)]
        found = [c.index for c in changepoints.detect(medians, metric="goodput_bps")]
        at += 25 in found
        near += any(abs(i - 25) <= 1 for i in found)
        extra += len(found) > 1
    assert at >= 49 and near == 50 and extra == 0, (at, near, extra)


def test_the_change_is_stated_with_its_interval_and_direction():
    rng = np.random.default_rng(7)
    medians = np.r_[rng.normal(100, 1, 20), rng.normal(95, 1, 20)]
    values = [m + rng.normal(0, 0.5, 6) for m in medians]
    (c,) = changepoints.detect(medians, values, "goodput_bps")
    assert c.index == 20 and c.before == (0, 20) and c.after == (20, 40)
    assert c.ci_low < c.change < c.ci_high < 0 and c.change == pytest.approx(-0.05, abs=0.01)
    assert c.direction == "worse" and c.pvalue < changepoints.MAX_PVALUE
    (c,) = changepoints.detect(medians, values, "latency_us_p50")    # lower is better
    assert c.direction == "better"


def test_stationary_noise_has_no_change_point():
    with_change = sum(bool(changepoints.detect(np.random.default_rng(s).normal(100, 1, 40)))
                      for s in range(100))
    heavy = sum(bool(changepoints.detect(100 * np.random.default_rng(s).lognormal(0, 0.02, 40)))
                for s in range(100))
    assert with_change == 0 and heavy == 0, (with_change, heavy)


def test_too_short_a_series_has_no_change_point():
    assert changepoints.detect([100, 100, 50]) == []


# The store -------------------------------------------------------------------

def test_adding_a_run_again_is_a_no_op_and_raw_values_are_kept(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 3)
    run = tmp_path / "runs" / "run-001"
    assert main(["history", "add", str(run), "--store", str(store)]) == 0
    assert "already in the store: r001" in capsys.readouterr().out
    with Store(store) as s:
        runs, samples, outcomes = s.runs(), s.samples(), s.outcomes()
    assert list(runs["run_id"]) == ["r000", "r001", "r002"]
    assert runs["kernel"].eq("6.18.44").all() and runs["machine"].eq("bench-a (synthetic)").all()
    assert runs["report"].str.endswith("report.html").all()
    good = samples[(samples["metric"] == "goodput_bps") & (samples["protocol"] == "mptcp")]
    assert len(good) == 18 and good["value"].nunique() == 18     # every trial, not medians
    assert len(outcomes) == 36 and set(samples["protocol"]) == {"tcp", "mptcp", "mptcp/tcp"}


def test_history_list_and_remove(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 2)
    capsys.readouterr()
    assert main(["history", "list", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "r000" in out and "r001" in out and "2 run(s)" in out
    assert main(["history", "remove", "r000", "--store", str(store)]) == 0
    with Store(store) as s:
        assert list(s.runs()["run_id"]) == ["r001"] and set(s.samples()["run_id"]) == {"r001"}
        assert set(s.outcomes()["run_id"]) == {"r001"}
    assert main(["history", "remove", "nope", "--store", str(store)]) == 2
    assert "not in the store" in capsys.readouterr().err


def test_a_missing_damaged_or_newer_store_is_one_sentence(tmp_path, capsys):
    assert main(["trend", "--store", str(tmp_path / "none")]) == 2
    assert "no history store here" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / FILE).write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a history store"):
        Store(tmp_path / "bad")
    store = store_of(tmp_path, [93e6])
    (tmp_path / "file").write_text("x")
    capsys.readouterr()
    assert main(["history", "add", str(tmp_path / "runs" / "run-000"), "--store",
                 str(tmp_path / "file")]) == 2
    assert "cannot make a history store there" in capsys.readouterr().err
    with sqlite3.connect(store / FILE) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(InputError, match="newer than this mptcp-bench reads"):
        Store(store)


# Series ----------------------------------------------------------------------

def test_series_keep_machines_and_definitions_apart_but_not_kernels(tmp_path):
    rng = np.random.default_rng(2)
    dirs = [write_run(tmp_path, 0, 47.8e6, 93e6, rng),
            write_run(tmp_path, 1, 47.8e6, 93e6, rng, kernel="6.19.0"),
            write_run(tmp_path, 2, 47.8e6, 93e6, rng, hostname="bench-b"),
            write_run(tmp_path, 3, 45.4e6, 88e6, rng, rate_mbit=47.5)]
    with Store(tmp_path / "store", create=True) as s:
        for d in dirs:
            s.add(open_run(d))
        found = series.build(s.runs(), s.heads(), s.samples(), metric_names=("goodput_bps",))
    members = sorted(tuple(x.runs["run_id"]) for x in found if x.protocol == "mptcp")
    assert members == [("r000", "r001"), ("r002",), ("r003",)]
    labels = {x.label() for x in found}
    assert "calib-2x · MPTCP/TCP · native · goodput ratio" in labels
    told = series.distinctions(found)
    assert sorted(told[x.key[0]] for x in found if x.protocol == "mptcp" and x.machine.startswith("bench-a")) \
        == ["links.0.rate_mbit=47.5, links.1.rate_mbit=47.5", "links.0.rate_mbit=50, links.1.rate_mbit=50"]


# Trend and its dashboard -----------------------------------------------------

def test_trend_reports_the_step_with_the_runs_either_side(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 12 + [88.3e6] * 8)
    capsys.readouterr()
    assert main(["trend", "--store", str(store), "--metric", "goodput_bps"]) == 0
    out = capsys.readouterr().out
    mptcp = next(block for block in out.split("\ncalib-2x") if block.lstrip().startswith("· MPTCP ·"))
    assert "change at r012 (rev 0000000000, kernel 6.18.44), after r011" in mptcp
    assert re.search(r"-5\.\d % \[-5\.\d, -\d\.\d\] worse", mptcp), mptcp
    tcp = next(block for block in out.split("\ncalib-2x") if "· TCP ·" in block)
    assert "0 change point(s)" in tcp
    assert main(["trend", "--store", str(store), "--metric", "goodput_bps", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ratio = next(d for d in doc if d["protocol"] == "mptcp/tcp")
    assert [c["run_id"] for c in ratio["change_points"]] == ["r012"]


def test_trend_refuses_an_unknown_metric(tmp_path, capsys):
    store = store_of(tmp_path, [93e6])
    assert main(["trend", "--store", str(store), "--metric", "speed"]) == 2
    assert "not a metric" in capsys.readouterr().err


def _dashboard(tmp_path) -> tuple[Path, list]:
    store = store_of(tmp_path, [93e6] * 10 + [88e6] * 6)
    out = tmp_path / "site" / "trend.html"
    assert main(["trend", "--store", str(store), "--html", str(out)]) == 0
    with Store(store) as s:
        return out, trend.trends(s)


def test_the_dashboard_links_every_point_to_its_run_report(tmp_path):
    out, trends = _dashboard(tmp_path)
    page = out.read_text()
    assert page.count("<svg") == len(trends) == 6        # TCP, MPTCP, ratio x goodput, CPU/GB
    links = re.findall(r'<a (?:xlink:)?href="([^"]+)"', page)
    points = [x for x in links if x.endswith("report.html")]
    assert len(points) >= 16 * len(trends)
    for rel in set(points):
        assert (out.parent / rel).resolve().is_file(), rel
    assert not re.search(r'(src|href)="(https?:|//)', page), "not self-contained"
    assert page.count('class="worse"') >= 2     # MPTCP goodput and the ratio got worse


def test_the_dashboard_renders_in_chromium(tmp_path):
    browser.needed()
    out, trends = _dashboard(tmp_path)
    seen = browser.probe(out)
    assert seen["errors"] == [] and seen["dialogs"] == [] and seen["scripts"] == 1, seen
    assert seen["title"] == "mptcp-bench trend"
    assert len(seen["svgs"]) == len(trends)
    assert all(w > 300 and h > 100 for w, h in seen["svgs"]), seen["svgs"]
    for t in trends:
        assert t.series.label() in seen["text"]
    reports = [h for h in seen["links"] if h.endswith("report.html")]
    assert len(reports) >= 16 * len(trends)


def test_a_hostile_hostname_is_text_on_the_dashboard(tmp_path):
    rng = np.random.default_rng(3)
    d = write_run(tmp_path, 0, 47.8e6, 93e6, rng, hostname="<script>alert(1)</script>")
    with Store(tmp_path / "s", create=True) as s:
        s.add(open_run(d))
        page = dashboard.render(trend.trends(s), tmp_path / "t.html", "s", 1)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# The history gate ------------------------------------------------------------

def _gate(tmp_path, store: Path, cand: Path, capsys, *extra) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["gate", "--history", str(store), str(cand), *extra])
    return rc, capsys.readouterr().out


def test_the_history_gate_passes_noise_and_fails_a_five_percent_loss(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 20)
    rng = np.random.default_rng(99)
    same = write_run(tmp_path / "cand", 50, 47.8e6, 93e6, rng)
    rc, out = _gate(tmp_path, store, same, capsys)
    assert rc == 0 and "gate passed: 0 regression(s) in 2 metric(s)" in out, out
    assert "ok calib-2x MPTCP (native) goodput" in out and "(20 runs since r000)" in out
    worse = write_run(tmp_path / "cand", 51, 47.8e6, 93e6 * 0.95, rng)
    rc, out = _gate(tmp_path, store, worse, capsys)
    assert rc == 1 and re.search(r"REGRESSION calib-2x MPTCP \(native\) goodput: .* -[45]\.\d %", out)
    assert "ok calib-2x TCP" in out
    rc, out = _gate(tmp_path, store, worse, capsys, "--max-regression", "goodput_bps=6")
    assert rc == 0, out


def test_the_history_gate_judges_against_the_segment_since_the_last_change(tmp_path, capsys):
    store = store_of(tmp_path, [99e6] * 12 + [93e6] * 12)
    rng = np.random.default_rng(5)
    cand = write_run(tmp_path / "cand", 60, 47.8e6, 93e6, rng)
    rc, out = _gate(tmp_path, store, cand, capsys)
    assert rc == 0 and "(12 runs since r012)" in out, out


def test_the_history_gate_counts_not_ok_trials(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 10)
    rng = np.random.default_rng(8)
    cand = write_run(tmp_path / "cand", 70, 47.8e6, 93e6, rng,
                     statuses={("mptcp", 0): "stalled", ("mptcp", 1): "stalled"})
    rc, out = _gate(tmp_path, store, cand, capsys, "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "regressed"
    (bad,) = [o for o in doc["outcomes"] if o["worse"]]
    assert bad["protocol"] == "mptcp" and bad["cand_bad"] == 2 and bad["history_bad"] == 0


def test_not_ok_trials_of_another_machine_are_not_this_history(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 10)
    rng = np.random.default_rng(11)
    stalling = [write_run(tmp_path / "other", 20 + i, 47.8e6, 93e6, rng, hostname="bench-b",
                          statuses={("mptcp", 0): "stalled", ("mptcp", 1): "stalled"}) for i in range(6)]
    assert main(["history", "add", *map(str, stalling), "--store", str(store)]) == 0
    cand = write_run(tmp_path / "cand", 90, 47.8e6, 93e6, rng,
                     statuses={("mptcp", 0): "stalled", ("mptcp", 1): "stalled"})
    rc, out = _gate(tmp_path, store, cand, capsys, "--json")
    (bad,) = [o for o in json.loads(out)["outcomes"] if o["worse"]]
    assert rc == 1 and bad["history_n"] == 60 and bad["history_bad"] == 0


def test_without_enough_comparable_history_the_gate_cannot_judge(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 3)
    rng = np.random.default_rng(9)
    cand = write_run(tmp_path / "cand", 80, 47.8e6, 93e6, rng)
    rc, out = _gate(tmp_path, store, cand, capsys)
    assert rc == 2 and "3 comparable run(s)" in out and "cannot judge" in out
    other = write_run(tmp_path / "cand", 81, 47.8e6, 93e6, rng, hostname="bench-b")
    rc, out = _gate(tmp_path, store, other, capsys)
    assert rc == 2 and "0 comparable run(s)" in out


def test_the_candidate_itself_is_never_its_own_history(tmp_path, capsys):
    store = store_of(tmp_path, [93e6] * 8 + [80e6])
    rc, out = _gate(tmp_path, store, tmp_path / "runs" / "run-008", capsys)
    assert rc == 1 and "(8 runs since r000)" in out, out


@pytest.mark.parametrize("argv, message", [
    (["gate", "a"], "gate takes BASE and CAND"),
    (["gate", "--history", "s", "a", "b"], "one candidate run directory"),
    (["gate", "--history", "s", "a", "--force"], "--force does not apply"),
])
def test_gate_arguments_are_checked(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_interval_holds_a_new_run_of_the_same_spread():
    """A skewed history (a few runs 2 % low, as MPTCP's here): the interval
    still holds such a run, and not one 5 % low."""
    rng = np.random.default_rng(4)
    medians = np.r_[rng.normal(100, 0.3, 17), [97.9, 97.5, 98.8]]
    center, low, high = hgate.interval(medians)
    assert low < 97.5 < high and low > 95 and center == pytest.approx(medians.mean())


def test_the_dashboard_of_real_runs_renders_in_chromium(tmp_path):
    """The committed calibration store: 20 real runs of the gate suite's shape."""
    browser.needed()
    store = Path(__file__).resolve().parents[2] / "reports/baselines/history-gate-calibration"
    with Store(store) as s:
        found = trend.trends(s)
        n = len(s.runs())
    # Schema-1 runs carry no own CPU (the history's CPU series): goodput's
    # TCP, MPTCP and ratio series only.
    assert n == 20 and len(found) >= 3
    out = dashboard.write(found, tmp_path / "trend.html", str(store), n)
    seen = browser.probe(out)
    assert seen["errors"] == [] and seen["scripts"] == 1 and len(seen["svgs"]) == len(found), seen
    assert all(w > 300 and h > 100 for w, h in seen["svgs"])
    assert "calib-2x · MPTCP/TCP · native · goodput ratio" in seen["text"]
