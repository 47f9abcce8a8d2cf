"""compare and gate on synthetic runs with known answers."""
import re

import numpy as np
import pytest
import synthetic

from bench.analysis import compare, gate
from bench.errors import InputError


def shaped(rng, scale=1.0, cpu_scale=1.0, n=6, **kw):
    """A run like the gate suite's: tight goodput (0.3 %), noisy CPU (40 %)."""
    tcp, mptcp = (synthetic.noisy(rng, c * 1e6 * scale, 0.003, n) for c in (47.8, 93.0))
    ts = synthetic.paired("agg", tcp, mptcp)
    for t in ts:
        t["cpu_system_s_per_gb"] = float(synthetic.noisy(rng, 100 * cpu_scale, 0.4, 1)[0])
    return synthetic.run(ts, **kw)


def judge(base, cand, thresholds=None, force=False):
    return gate.evaluate(compare.compare(base, cand), thresholds or gate.default_thresholds(),
                         force=force)


def test_aa_passes_and_ab_with_a_5_percent_loss_fails():
    rng = np.random.default_rng(5)
    aa = [judge(shaped(rng), shaped(rng)).status for _ in range(30)]
    ab = [judge(shaped(rng), shaped(rng, scale=0.95)).status for _ in range(30)]
    assert sum(aa) <= 2, "false alarms on identical distributions"
    assert all(s == gate.REGRESSED for s in ab)


def test_verdict_lines_name_scenario_metric_change_and_interval():
    rng = np.random.default_rng(6)
    result = judge(shaped(rng), shaped(rng, scale=0.95))
    lines = [l for l in result.lines if l.startswith("REGRESSION")]
    assert len(lines) == 2
    assert lines[0].startswith("REGRESSION agg TCP goodput: 47.")
    assert re.search(r"→ 45\.\d+ Mbit/s, -[45]\.\d % \[-\d\.\d … -\d\.\d %\], p=0\.00216 \(n 6/6\); "
                     r"threshold 3 %$", lines[0]), lines[0]
    assert result.lines[-1].startswith("gate FAILED: 2 regression(s)")
    assert {r["metric"] for r in result.regressions} == {"goodput_bps"}


def test_direction_aware_verdicts():
    rng = np.random.default_rng(8)
    faster = compare.compare(shaped(rng), shaped(rng, scale=1.10))
    rows = faster.rows.set_index(["protocol", "metric"])
    assert rows.loc[("tcp", "goodput_bps"), "verdict"] == "better"
    costlier = compare.compare(shaped(rng), shaped(rng, cpu_scale=3.0))
    rows = costlier.rows.set_index(["protocol", "metric"])
    assert rows.loc[("tcp", "cpu_system_s_per_gb"), "verdict"] == "worse"
    # System CPU is not gated by default (too noisy on a shared machine)...
    assert judge(shaped(rng), shaped(rng, cpu_scale=3.0)).status == gate.PASSED
    cpu = gate.parse_thresholds(["cpu_system_s_per_gb=15"])
    assert judge(shaped(rng), shaped(rng, cpu_scale=3.0), cpu).status == gate.REGRESSED
    assert judge(shaped(rng), shaped(rng, scale=1.10)).status == gate.PASSED


def test_a_regression_within_its_threshold_passes_but_is_listed():
    rng = np.random.default_rng(9)
    result = judge(shaped(rng), shaped(rng, scale=0.98))
    assert result.status == gate.PASSED
    assert sum(l.startswith("within threshold") for l in result.lines) == 2
    strict = gate.parse_thresholds(["goodput_bps=1"])
    assert judge(shaped(rng), shaped(rng, scale=0.98), strict).status == gate.REGRESSED
    off = gate.parse_thresholds(["goodput_bps=off"])
    assert judge(shaped(rng), shaped(rng, scale=0.5), off).status == gate.PASSED


def test_more_fallbacks_fail_the_gate_even_without_a_median():
    rng = np.random.default_rng(10)
    base = shaped(rng)
    cand = shaped(rng)
    for t in cand.doc["trials"]:
        if t["protocol"] == "mptcp":
            t.update(status="fallback", reason="MPTCP option stripped")
    cand = synthetic.run(cand.doc["trials"])
    result = judge(base, cand)
    assert result.status == gate.REGRESSED
    assert any("agg MPTCP trials not ok: 0/6 → 6/6" in l for l in result.lines)
    one = shaped(rng)
    one.doc["trials"][1].update(status="stalled")
    assert judge(base, synthetic.run(one.doc["trials"])).status == gate.PASSED


def test_too_few_trials_are_not_judged():
    rng = np.random.default_rng(12)
    result = judge(shaped(rng, n=3), shaped(rng, n=3, scale=0.5))
    assert result.status == gate.PASSED
    assert any(l.startswith("not judged") for l in result.lines)


def test_different_definitions_are_incomparable_unless_forced():
    rng = np.random.default_rng(13)
    base, cand = shaped(rng), shaped(rng, scale=0.95, rate_mbit=47.5)
    c = compare.compare(base, cand)
    assert [d.key for d in c.incomparable] == ["scenarios.agg.definition.links.0.rate_mbit",
                                               "scenarios.agg.definition.links.1.rate_mbit"]
    assert judge(base, cand).status == gate.INCOMPARABLE
    assert judge(base, cand, force=True).status == gate.REGRESSED
    other_repeat = compare.compare(shaped(rng), shaped(rng, repeat=10))
    assert [d.key for d in other_repeat.incomparable] == ["suite.repeat"]


def test_kernel_release_and_unknown_keys_only_warn():
    rng = np.random.default_rng(14)
    cand = shaped(rng, kernel="6.19.0")
    cand.doc["metadata"]["noise"] = {"steal_s": 0.1}
    c = compare.compare(shaped(rng), cand)
    assert not c.incomparable
    policies = {d.key: d.policy for d in c.differences}
    assert policies == {"kernel.release": "warn", "noise.steal_s": "unregistered"}
    text = compare.lines(c)
    assert "warning: kernel release (kernel.release): 6.18.44 → 6.19.0" in text


def test_scenarios_in_one_run_only_are_listed_not_compared():
    rng = np.random.default_rng(15)
    base = shaped(rng)
    extra = synthetic.paired("other", [1e6] * 6, [2e6] * 6)
    cand = synthetic.run(shaped(rng).doc["trials"] + extra)
    c = compare.compare(base, cand)
    assert c.only_cand == ["other"] and set(c.rows["scenario"]) == {"agg"}
    assert not c.incomparable


def test_json_is_plain_data():
    import json
    rng = np.random.default_rng(16)
    c = compare.compare(shaped(rng), shaped(rng, scale=0.9))
    result = gate.evaluate(c, gate.default_thresholds())
    out = json.loads(json.dumps(result.as_json(c, gate.default_thresholds())))
    assert out["status"] == "regressed" and out["exit"] == 1
    assert out["regressions"][0]["scenario"] == "agg"
    assert {"change", "ci_low", "ci_high", "p_value", "verdict"} <= set(out["comparison"]["rows"][0])


@pytest.mark.parametrize("spec", ["goodput_bps", "nope=3", "goodput_bps=-1", "goodput_bps=x"])
def test_bad_thresholds_are_refused(spec):
    with pytest.raises(InputError, match="--max-regression"):
        gate.parse_thresholds([spec])
