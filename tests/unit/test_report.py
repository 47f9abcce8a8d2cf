"""report.md (golden file on a real run), report.html in a real browser,
and the sections synthetic data exercises: latency, send modes, skipped
scenarios, per-subflow series."""
import base64
import html.parser
import json
import os
import re
import shutil

import browser
import matplotlib.pyplot as plt
import pytest
import synthetic

from bench import report
from bench.analysis import summary
from bench.cli import main
from bench.report import plots

GOLDEN = "golden/report-quick-a.md"


@pytest.fixture
def fixture_run(tmp_path, data_dir):
    path = tmp_path / "quick-a"
    shutil.copytree(data_dir / "runs" / "quick-a", path)
    return path


def test_report_text_matches_the_golden_file(fixture_run, data_dir):
    """Regenerate after an intended change with MPTCP_BENCH_UPDATE_GOLDEN=1."""
    text = report.markdown(summary.open_run(fixture_run).doc)
    golden = data_dir / GOLDEN
    if os.environ.get("MPTCP_BENCH_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_report_command_writes_markdown_html_and_figures(fixture_run, capsys):
    assert main(["report", str(fixture_run)]) == 0
    md = (fixture_run / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", md)
    assert linked == ["plots/overview.png", "plots/single-link-goodput.png",
                      "plots/aggregate-2x-goodput.png"]
    for rel in linked:
        assert (fixture_run / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (fixture_run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r'(src|href)="(https?:|//|plots/)', page), "not self-contained"
    assert "wrote" in capsys.readouterr().out


def test_html_report_loads_and_its_images_render_in_chromium(fixture_run):
    browser.needed()
    report.write(summary.open_run(fixture_run))
    seen = browser.probe(fixture_run / "report.html")
    assert seen["errors"] == [] and seen["title"].startswith("mptcp-bench run")
    assert len(seen["images"]) == 3
    for img in seen["images"]:
        assert img["complete"] and img["width"] > 300 and img["height"] > 150, img


def test_free_text_runs_no_script_in_chromium_and_is_shown(hostile_run):
    browser.needed()
    report.write(summary.open_run(hostile_run))
    seen = browser.probe(hostile_run / "report.html")
    assert seen["dialogs"] == [] and seen["scripts"] == 1, seen      # the probe's own only
    assert seen["errors"] == [] and len(seen["images"]) == 3, seen
    for value in HOSTILE.values():
        assert _shown(value) in _shown(seen["text"]), value


def test_the_browser_check_sees_a_script_run(fixture_run):
    """The probe itself: a page's script element and its alert are caught."""
    browser.needed()
    report.write(summary.open_run(fixture_run))
    page = fixture_run / "report.html"
    page.write_text(page.read_text().replace("<body>", "<body><script>alert(1)</script>", 1))
    seen = browser.probe(page)
    assert seen["dialogs"] == ["alert: 1"] and seen["scripts"] == 2, seen


def test_the_browser_check_catches_a_broken_image(fixture_run):
    browser.needed()
    report.write(summary.open_run(fixture_run))
    page = fixture_run / "report.html"
    good = base64.b64encode((fixture_run / "plots" / "overview.png").read_bytes()).decode()
    page.write_text(page.read_text().replace(good, base64.b64encode(b"not a png").decode(), 1))
    seen = browser.probe(page)
    broken = [i for i in seen["images"] if i["width"] == 0]
    assert len(broken) == 1 and seen["errors"], seen


# Free text a scenario file, results.json, an exception or the kernel can
# carry; the report must show each as text (newlines folded).
# A scenario name is a safe name (bench.names); within that, markdown-ish.
HOSTILE = {"name": "x__init__.y_-_z",
           "description": "<script>alert(1)</script>",
           "reason": "[red]x[/] *not em* `tick` __init__ a | b\nnext line",
           "skip": "<b>bold?</b> & &amp; [link](http://example.com)",
           "suite": "# heading? <iframe src=x></iframe>",
           "hostname": "<svg onload=alert(2)>",
           "sysctl": "1 | 2 <script>alert(3)</script>"}


@pytest.fixture
def hostile_run(fixture_run):
    """quick-a with its free text replaced by HOSTILE."""
    path = fixture_run / "results.json"
    doc = json.loads(path.read_text())
    old, new = "single-link", HOSTILE["name"]
    doc["scenarios"] = {(new if k == old else k): v for k, v in doc["scenarios"].items()}
    entry = doc["scenarios"][new]
    entry["definition"].update(name=new, description=HOSTILE["description"])
    entry["readback"]["sysctls"] = {"client": {"net.hostile": HOSTILE["sysctl"]}}
    doc["scenarios"]["skipped"] = {**doc["scenarios"]["aggregate-2x"], "state": "skipped",
                                   "reason": HOSTILE["skip"]}
    for t in doc["trials"]:
        t["scenario"] = new if t["scenario"] == old else t["scenario"]
    failed = next(t for t in doc["trials"] if t["scenario"] == new)
    failed.update(status="failed", reason=HOSTILE["reason"])
    doc["metadata"]["suite"]["description"] = HOSTILE["suite"]
    doc["metadata"]["hostname"] = HOSTILE["hostname"]
    path.write_text(json.dumps(doc))
    return fixture_run


class _Page(html.parser.HTMLParser):
    """The elements and the text of a page."""

    def __init__(self, page: str):
        super().__init__()
        self.tags, self.text, self.tables = [], [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)       # cells per row
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_data(self, data):
        self.text.append(data)


def _shown(text: str) -> str:
    return " ".join(text.split())


def test_free_text_in_the_report_is_text_never_markup(hostile_run):
    report.write(summary.open_run(hostile_run))
    page = _Page((hostile_run / "report.html").read_text())
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "iframe", "svg", "a", "em", "b"}, tags
    assert [t for t, _ in page.tags if t == "h1"] == ["h1"]          # the title alone
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert all(attrs["src"].startswith("data:image/png;base64,")
               for tag, attrs in page.tags if tag == "img")
    # `a | b` splits no cell: every row of a table has as many cells as its head.
    assert len(page.tables) >= 4 and all(len(set(rows)) == 1 for rows in page.tables)
    text = _shown("".join(page.text))
    for value in HOSTILE.values():
        assert _shown(value) in text, value
    # Figures of the scenario are drawn (no mathtext in titles), under plots/.
    goodput = hostile_run / "plots" / f"{HOSTILE['name']}-goodput.png"
    assert goodput.read_bytes()[:4] == b"\x89PNG"


def rr_run():
    trials = synthetic.paired("rr", [50.0] * 4, [60.0] * 4, metric="latency_us_p50",
                              workload="rr", goodput_bps=None, latency_us_p99=200.0,
                              cpu_system_s_per_gb=None, cpu_own_s_per_gb=None,
                              expected_goodput_bps=None, cpu_own_us_per_transaction=8.0,
                              cpu_system_us_per_transaction=9.0, transactions_per_s=20000.0)
    for t in trials:
        t["latency_samples_us"] = [40.0, 50.0, 55.0, 200.0] if t["protocol"] == "tcp" else \
            [50.0, 60.0, 65.0, 240.0]
    return synthetic.run(trials)


def test_a_latency_workload_states_latency_and_draws_its_cdf():
    rep = report.Report(rr_run())
    text = rep.markdown()
    assert ("- **rr**: MPTCP latency p50 ×1.20 [1.20–1.20] of TCP (60.0 vs 50.0 µs); latency p99 "
            "×1.00 [1.00–1.00] (200.0 vs 200.0 µs); own CPU/transaction ×1.00 [1.00–1.00] "
            "(8.0 vs 8.0 µs); 4/4 MPTCP trials verified, 0 fallback, 0 stalled") in text
    assert "Link-model" not in text and "goodput" not in text
    assert "![rr: latency CDF](plots/rr-latency.png)" in text
    assert rep.figures["plots/rr-latency.png"][:4] == b"\x89PNG"
    assert "| transactions (1/s) | 20000 [20000–20000]" in text


def test_send_mode_matrix_shows_support_reasons_and_copied_completions():
    trials = synthetic.paired("s", [1e9] * 2, [1e9] * 2, send_mode="zerocopy")
    for t in trials:
        t["mode_support"] = {"send": {"status": "works", "zc_completions": 10, "zc_copied": 10}}
        if t["protocol"] == "mptcp":
            t["mode_support"]["send"] = {"status": "unsupported",
                                         "reason": "setsockopt(SO_ZEROCOPY): EOPNOTSUPP"}
    text = report.Report(synthetic.run(trials)).markdown()
    assert "| mode | TCP | MPTCP |" in text
    assert ("| send: zerocopy | works, copied 20 of 20 zero-copy completions | unsupported (2 of 2 "
            "trials): setsockopt(SO_ZEROCOPY): EOPNOTSUPP |") in text


def test_a_receive_low_water_mark_is_its_own_row_of_the_mode_matrix():
    trials = [*synthetic.paired("a", [1e9] * 2, [1e9] * 2, recv_mode="trunc", recv_lowat_kib=0),
              *synthetic.paired("b", [1e9] * 2, [1e9] * 2, recv_mode="trunc", recv_lowat_kib=1024)]
    for t in trials:
        t["mode_support"] = {"recv": {"mode": "trunc", "status": "works", "reason": None}}
    text = report.Report(synthetic.run(trials)).markdown()
    assert "| recv: trunc | works | works |" in text
    assert "| recv: trunc (SO_RCVLOWAT 1024 KiB) | works | works |" in text


def test_an_unsent_data_low_water_mark_is_its_own_row_of_the_mode_matrix():
    trials = [*synthetic.paired("a", [1e9] * 2, [1e9] * 2, notsent_lowat_kib=0),
              *synthetic.paired("b", [1e9] * 2, [1e9] * 2, notsent_lowat_kib=128)]
    for t in trials:
        t["mode_support"] = {"send": {"mode": "send", "status": "works", "reason": None}}
    text = report.Report(synthetic.run(trials)).markdown()
    assert "| send: send | works | works |" in text
    assert "| send: send (TCP_NOTSENT_LOWAT 128 KiB) | works | works |" in text


def test_fallbacks_and_skips_are_counted_never_averaged():
    trials = synthetic.paired("s", [10e6] * 4, [20e6] * 4,
                              statuses={("mptcp", i): "fallback" for i in range(4)})
    run = synthetic.run(trials)
    run.head["scenarios"]["wan"] = {**synthetic.scenario_entry("wan"), "state": "skipped",
                                    "reason": "needs netem"}
    text = report.Report(run).markdown()
    assert ("- **s**: no repeat with both its TCP and MPTCP trial ok, so no ratio; 0/4 MPTCP "
            "trials verified, 4 fallback, 0 stalled") in text
    assert "- **wan**: skipped — needs netem" in text
    assert "- MPTCP repeat 0: **fallback** — synthetic fallback" in text


def test_trials_that_are_not_ok_are_drawn_dashed_and_labelled():
    trials = synthetic.paired("s", [10e6] * 3, [20e6] * 3, statuses={("mptcp", 1): "stalled"})
    for t in trials:
        t.update(intervals_bytes=[1000, 1200, 900], interval_s=0.1, subflow_share=[0.5, 0.5])
    rep = report.Report(synthetic.run(trials))
    rep.markdown()
    assert rep.figures["plots/s-goodput.png"][:4] == b"\x89PNG"
    fig, ax = plt.subplots()
    plots._lines(ax, trials[1::2], "red")
    assert [l.get_label() for l in ax.get_lines() if not l.get_label().startswith("_")] == \
        ["#1 stalled"]
    plt.close(fig)


def test_mptcp_is_stacked_per_subflow_when_series_exist():
    t = synthetic.trial("s", "mptcp", 0, goodput_bps=1e6, interval_s=0.1,
                        intervals_bytes=[30, 30], subflow_intervals_bytes=[[10, 20], [20, 10]])
    fig, ax = plt.subplots()
    assert plots._stacked(ax, t)
    assert len(ax.collections) == 2        # one filled band per subflow
    plt.close(fig)
    assert plots.timeseries({"trials": [t]}, "s")[:4] == b"\x89PNG"
