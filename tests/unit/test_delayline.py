"""The host delay line's pure parts: its counters, distributions, rules and
what it refuses (harness.net.delayline)."""
import pytest

from harness.errors import CapabilityError
from harness.net import delayline
from harness.net.spec import LinkSpec


def test_release_error_percentiles_are_signed_and_use_bucket_middles():
    # 5 µs buckets from 1 ms early: bucket 200 is [0, 5) µs, bucket 190 [-50, -45).
    hist = {190: 1, 200: 97, 260: 1, 400: 1}
    out = delayline.late_percentiles(hist, 5000, 1_000_000)
    assert out["late_us_p1"] == -47.5
    assert out["late_us_p50"] == 2.5
    assert out["late_us_p99"] == 302.5
    assert out["late_us_max"] == 1002.5


def test_an_empty_histogram_gives_no_percentiles():
    assert set(delayline.late_percentiles({}, 5000, 0).values()) == {None}


def _stats(packets, late, dropped, cpu, overruns=0):
    return {"overruns": overruns, "lead_ns": 40_000, "hist_offset_ns": 1_000_000, "cpu_s": cpu,
            "queues": {"0": {"packets": packets, "bucket_ns": 5000, "late": late},
                       "3": {"packets": 0, "bucket_ns": 5000, "late": {}}},
            "kernel": {"0": {"queue_dropped": dropped, "user_dropped": 1}}}


def test_summary_takes_differences_between_two_snapshots():
    queues = [delayline.Queue(0, "rs0", 20), delayline.Queue(3, "rc1", 40)]
    before = _stats(100, {"200": 100}, 2, 1.0)
    after = _stats(250, {"200": 240, "300": 10}, 5, 1.5, overruns=2)
    out = delayline.summary(before, after, queues)
    first, second = out["queues"]
    assert (first["link"], first["direction"], first["packets"], first["dropped"]) == (0, "up", 150, 3)
    assert first["late_us_p50"] == 2.5 and first["late_us_max"] == 502.5
    assert (second["link"], second["direction"], second["packets"]) == (1, "down", 0)
    assert second["late_us_p50"] is None
    assert out["dropped"] == 3 and out["overruns"] == 2 and out["cpu_s"] == 0.5
    assert out["late_us_p99"] == 502.5 and out["lead_us"] == 40


def test_queue_numbers_are_per_link_and_direction():
    assert [delayline.queue_number(link, way) for link in (0, 1) for way in ("up", "down")] == [0, 1, 2, 3]


def test_rules_queue_each_delayed_egress_for_each_family():
    rules = delayline.rules([delayline.Queue(2, "rs1", 5)], (4, 6))
    assert rules == [[tool, "-t", "mangle", "-A", "POSTROUTING", "-o", "rs1", "-j", "NFQUEUE",
                      "--queue-num", "2"] for tool in ("iptables", "ip6tables")]


def test_a_distribution_table_is_read_like_iproute2s(tmp_path):
    table = tmp_path / "mine.dist"
    table.write_text("# a comment\n -8192 0 8192\n16384 # two sigma\n")
    assert delayline.load_distribution(str(table)) == [-8192, 0, 8192, 16384]
    assert delayline.Queue(0, "rs0", 10, 2, False, str(table)).argument() == (
        0, 10_000_000, 2_000_000, False, [-8192, 0, 8192, 16384])


@pytest.mark.parametrize("text", ["1 2 x\n", "70000\n", "# nothing\n"])
def test_a_file_that_is_no_distribution_table_is_refused(tmp_path, text):
    table = tmp_path / "bad.dist"
    table.write_text(text)
    with pytest.raises(CapabilityError, match="is not a distribution table"):
        delayline.load_distribution(str(table))


def test_an_unknown_distribution_names_where_it_looked():
    with pytest.raises(CapabilityError, match="no delay distribution 'zipf'"):
        delayline.find_distribution("zipf")
    with pytest.raises(CapabilityError, match="does not exist"):
        delayline.find_distribution("/nonexistent/x.dist")


@pytest.mark.parametrize("link, backend, message", [
    (LinkSpec(delay_ms=5), "host", "delayed with no rate up"),
    (LinkSpec(rate_up_mbit=10, rate_down_mbit=delayline.CEILING_MBIT * 2, delay_ms=5), "host",
     f"{delayline.CEILING_MBIT * 2} Mbit/s down"),
    (LinkSpec(rate_up_mbit=10, rate_down_mbit=10, delay_ms=5, jitter_ms=1, reorder=True,
              distribution="normal"), "netem", "distribution needs the host delay line"),
    (LinkSpec(rate_up_mbit=10, rate_down_mbit=10, delay_ms=5, jitter_ms=1), "netem",
     "keeps packet order"),
])
def test_what_a_backend_would_emulate_wrong_is_refused(link, backend, message):
    with pytest.raises(CapabilityError, match=message):
        delayline.check_spec([LinkSpec(), link], backend)


@pytest.mark.parametrize("link, past_the_edge, backend", [
    (LinkSpec(delay_ms=5), LinkSpec(delay_ms=5, jitter_ms=1), "netem"),
    (LinkSpec(rate_up_mbit=delayline.CEILING_MBIT, rate_down_mbit=1, delay_ms=5, jitter_ms=2),
     LinkSpec(rate_up_mbit=delayline.CEILING_MBIT + 1, rate_down_mbit=1, delay_ms=5, jitter_ms=2),
     "host"),
    (LinkSpec(rate_up_mbit=10, rate_down_mbit=10, delay_ms=5, jitter_ms=1, reorder=True),
     LinkSpec(rate_up_mbit=10, rate_down_mbit=10, delay_ms=5, jitter_ms=1, reorder=False), "netem"),
    (LinkSpec(), LinkSpec(delay_ms=5), "host"),     # undelayed: no limit; delayed: a rate
])
def test_what_a_backend_emulates_is_accepted_up_to_its_edge(link, past_the_edge, backend):
    """Each accepted link against its neighbour one step past what the
    backend emulates right: the check draws the line there, not anywhere."""
    assert delayline.check_spec([link], backend) is None
    with pytest.raises(CapabilityError):
        delayline.check_spec([past_the_edge], backend)
