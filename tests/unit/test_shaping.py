from harness.net import shaping


def test_tbf_burst_and_queue_scale_with_rate():
    slow = shaping.tbf_kwargs(1, 25)
    fast = shaping.tbf_kwargs(1000, 25)
    # Worked by hand, not with the code's formula: 1 Mbit/s for 2 ms is 250
    # bytes, under the 16 KiB floor; 1000 Mbit/s is 125 MB/s, so 2 ms of burst
    # is 250 000 bytes and 25 ms of queue 3 125 000 bytes on top of it.
    # tests/root/test_topology.py reads what the kernel accepted back.
    assert slow == {"rate": "1000kbit", "burst": 16_384, "limit": 3_125 + 16_384}
    assert fast == {"rate": "1000000kbit", "burst": 250_000, "limit": 3_125_000 + 250_000}


def test_loss_ruleset_drops_per_ingress_interface():
    text = shaping.loss_ruleset([("rc0", 1.0), ("rs1", 0.25)])
    assert 'iifname "rc0" numgen random mod 1000000 < 10000 counter drop' in text
    assert 'iifname "rs1" numgen random mod 1000000 < 2500 counter drop' in text
    assert text.startswith(f"table inet {shaping.NFT_TABLE} {{")


def test_direction_needs():
    d = shaping.Direction(rate_mbit=None, loss_pct=0, delay_ms=5, jitter_ms=0, queue_ms=25)
    assert d.delayed and not d.shaped
