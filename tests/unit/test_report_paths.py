"""The report's Paths part on a real run of delayed scenarios on the host
delay line (tests/data/runs/paths: heterogeneous-reversed and
jitter-2x-reorder of the `paths` suite, 2 repeats each)."""
import re
import shutil

import pytest

from bench import report
from bench.analysis import summary
from bench.report import paths


@pytest.fixture(scope="module")
def paths_run(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("runs") / "paths"
    shutil.copytree(data_dir / "runs" / "paths", path)
    run = summary.open_run(path)
    return run, report.Report(run)


def _part(text: str, scenario: str) -> str:
    start = text.index(f"\n## {scenario}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_aggregation_against_the_best_path_and_the_sum(paths_run):
    _, rep = paths_run
    part = _part(rep.markdown(), "heterogeneous-reversed")
    assert "#### Paths" in part
    tcp = re.search(r"\| TCP \| ([\d.]+) \| (\d+)% \| (\d+)% \| (\d)/(\d) \|", part)
    mptcp = re.search(r"\| MPTCP \| ([\d.]+) \| (\d+)% \| (\d+)% \| (\d)/(\d) \|", part)
    # TCP is stuck on the 10 Mbit/s path: a fifth of the best path; MPTCP
    # uses both and gets near their sum.
    assert 15 <= int(tcp[2]) <= 21 and int(mptcp[3]) >= 90 and int(mptcp[2]) > 100
    assert mptcp[4] == mptcp[5] == "2"
    assert "Best single path 47.0 Mbit/s, sum of paths 56.4 Mbit/s" in part


def test_out_of_order_evidence_per_connection_and_per_subflow(paths_run):
    _, rep = paths_run
    part = _part(rep.markdown(), "heterogeneous-reversed")
    assert "`MPTcpExtOFOQueue`" in part and "`TcpExtTCPOFOQueue`" in part
    row = re.search(r"\| MPTCP \| (\d+) \|", part)
    assert int(row[1]) > 100      # the fast path's data waits for the slow one's
    shares = dict(re.findall(r"\| ([01]) \| ([\d.]+) \| [\d–]+ \| [\d.]+ \|", part))
    assert float(shares["1"]) > 75 and float(shares["0"]) < 25   # the 50 Mbit/s path carries most


def test_the_delay_lines_work_is_summed_up(paths_run):
    _, rep = paths_run
    part = _part(rep.markdown(), "heterogeneous-reversed")
    line = re.search(r"Delay from the host delay line: (\d+) packets over 4 trials, (\d+) dropped", part)
    assert int(line[1]) > 10_000 and line[2] == "0"


def test_fallbacks_under_reordering_are_counted_not_aggregated(paths_run):
    _, rep = paths_run
    text = rep.markdown()
    assert "**jitter-2x-reorder**: no repeat with both its TCP and MPTCP trial ok" in text
    part = _part(text, "jitter-2x-reorder")
    assert "| TCP |" in part and "| MPTCP | " not in part.split("Receiver's")[0]
    assert "MPTcpExtMPCapableFallbackACK +1" in part


def test_subflow_shares_are_drawn_over_time(paths_run):
    _, rep = paths_run
    rep.markdown()
    png = rep.figures.get("plots/heterogeneous-reversed-subflow-shares.png")
    assert png and png[:4] == b"\x89PNG"
    assert "plots/jitter-2x-reorder-subflow-shares.png" not in rep.figures   # no MPTCP trial ok


def test_the_time_bound_is_simult_flows_style():
    # 10 MB over 10 + 40 Mbit/s: 80 Mbit / (50 Mbit/s * 0.9) + 0.4 s
    assert paths.time_bound_s(10_000_000, [10, 40]) == pytest.approx(80 / 45 + 0.4)


def test_only_delayed_or_unequal_paths_get_the_part():
    link = {"rate_mbit": 50, "rate_up_mbit": None, "delay_ms": 0, "jitter_ms": 0}
    assert not paths.applies({"definition": {"links": [link, link]}})
    assert paths.applies({"definition": {"links": [link, {**link, "rate_mbit": 10}]}})
    assert paths.applies({"definition": {"links": [{**link, "delay_ms": 5}]}})


def test_equal_rate_aggregation_is_against_mptcps_own_two_links():
    from bench.catalog import Catalog
    s = Catalog().scenario("aggregate-equal-rate")
    trials = [{"protocol": p, "status": "ok", "goodput_bps": g, "duration_s": 3.0,
               "bytes": int(g * 3 / 8)} for p, g in (("tcp", 95e6), ("mptcp", 93e6))]
    text = "\n".join(paths.aggregation(s, trials))
    # MPTCP's paths are the two 50 Mbit/s links (47.0 each, payload), not
    # TCP's 100 Mbit/s one: MPTCP at 93 is ~99 % of their sum.
    assert "Best single path 47.0 Mbit/s, sum of paths 94.1 Mbit/s" in text
    assert "over the 2 link(s) MPTCP uses" in text
    assert re.search(r"\| MPTCP \| 93\.0 \| 198% \| 99% \| 1/1 \|", text)
    assert re.search(r"\| TCP \| 95\.0 \| \d+% \| \d+% \| 1/1 \|", text)
