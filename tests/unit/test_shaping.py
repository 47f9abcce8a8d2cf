from harness.net import shaping


def test_tbf_burst_and_queue_scale_with_rate():
    slow = shaping.tbf_kwargs(1, 25)
    fast = shaping.tbf_kwargs(1000, 25)
    assert slow["burst"] == shaping.MIN_BURST
    assert fast["burst"] == int(1000e6 / 8 * 0.002)
    assert fast["limit"] == int(1000e6 / 8 * 0.025) + fast["burst"]
    assert fast["rate"] == "1000000kbit"


def test_loss_ruleset_drops_per_ingress_interface():
    text = shaping.loss_ruleset([("rc0", 1.0), ("rs1", 0.25)])
    assert 'iifname "rc0" numgen random mod 1000000 < 10000 counter drop' in text
    assert 'iifname "rs1" numgen random mod 1000000 < 2500 counter drop' in text
    assert text.startswith(f"table inet {shaping.NFT_TABLE} {{")


def test_direction_needs():
    d = shaping.Direction(rate_mbit=None, loss_pct=0, delay_ms=5, jitter_ms=0, queue_ms=25)
    assert d.delayed and not d.shaped
