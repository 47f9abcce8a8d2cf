"""compare, gate and gate --history judge the trials' own CPU, leave
disturbed trials out, and call a change in own CPU that the foreign CPU's
spread could have made "unresolved" (synthetic runs of aggregate-2x's
shape: 0.035 GB per MPTCP trial)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import synthetic

from bench.analysis import compare, gate, open_run
from bench.cli import main

GB = 0.035
QUIET = [0.02, 0.03, 0.02, 0.04, 0.03, 0.02]      # foreign s: ticks; floor ≈ 0.29 s/GB
BUSY = [1.2, 3.6, 2.1, 4.3, 1.5, 3.9]             # another job beside the trials
GATE_OWN = ["cpu_own_s_per_gb=5"]                 # own CPU/GB is not gated by default


def _run(root: Path, name: str, per_gb: float, foreign: list[float], *, goodput=93e6,
         statuses=None, extra=(), i: int = 0) -> Path:
    """A run of paired trials whose own CPU/GB steps up by 0.2 % per repeat
    around `per_gb`, with these foreign CPU seconds; `extra` appends
    (protocol, status, goodput) trials after the last repeat."""
    trials = []
    for r, f in enumerate(foreign):
        for proto in ("tcp", "mptcp"):
            v = per_gb * (1 + 0.002 * r)
            status = (statuses or {}).get((proto, r), "ok")
            trials.append(synthetic.trial("agg", proto, r, status=status, goodput_bps=goodput,
                                          cpu_own_s_per_gb=v, cpu_own_s=v * GB, cpu_foreign_s=f))
    for k, (proto, status, bps) in enumerate(extra):
        trials.append(synthetic.trial("agg", proto, len(foreign) + k, status=status,
                                      reason=f"synthetic {status}", goodput_bps=bps,
                                      cpu_own_s_per_gb=per_gb, cpu_own_s=per_gb * GB,
                                      cpu_foreign_s=9.0))
    doc = synthetic.doc(trials, run_id=f"{name}-{i:03d}", repeat=len(foreign))
    doc["metadata"].update(started=f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00+0000",
                           hostname="bench-a")
    path = root / f"{name}-{i:03d}"
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(doc))
    return path


def _row(c, protocol="mptcp", metric="cpu_own_s_per_gb"):
    rows = c.rows[(c.rows["protocol"] == protocol) & (c.rows["metric"] == metric)]
    return rows.iloc[0]


def test_a_resolved_rise_in_own_cpu_fails_the_gate(tmp_path):
    base = open_run(_run(tmp_path, "base", 2.7, QUIET))
    cand = open_run(_run(tmp_path, "cand", 2.7 * 1.25, QUIET))
    c = compare.compare(base, cand)
    assert _row(c)["verdict"] == "worse"
    result = gate.evaluate(c, gate.parse_thresholds(GATE_OWN))
    assert result.status == gate.REGRESSED
    assert any(line.startswith("REGRESSION agg MPTCP own CPU/GB") for line in result.lines)


def test_the_same_rise_within_the_foreign_spread_is_unresolved(tmp_path):
    # Busy candidate: foreign IQR ≈ 2.3 s over 0.035 GB ≈ 66 s/GB ≫ the 0.68 s/GB rise.
    base = open_run(_run(tmp_path, "base", 2.7, QUIET))
    cand = open_run(_run(tmp_path, "cand", 2.7 * 1.25, BUSY))
    c = compare.compare(base, cand)
    row = _row(c)
    assert row["verdict"] == "unresolved" and row["floor"] > abs(row["cand_median"] - row["base_median"])
    assert _row(c, metric="goodput_bps")["verdict"] in ("unchanged", "insufficient")
    result = gate.evaluate(c, gate.parse_thresholds(GATE_OWN))
    assert result.status == gate.PASSED, result.lines
    (line,) = [ln for ln in result.lines if ln.startswith("unresolved: agg MPTCP own CPU/GB")]
    assert "below what this machine resolves" in line


def test_disturbed_trials_are_neither_samples_nor_outcomes(tmp_path, capsys):
    base = _run(tmp_path, "base", 2.7, QUIET)
    # The candidate's two disturbed MPTCP trials ran at a tenth of the rate:
    # they would be a goodput regression and, counted, dilute the outcomes.
    cand = _run(tmp_path, "cand", 2.7, QUIET, extra=[("mptcp", "disturbed", 9.3e6)] * 2)
    c = compare.compare(open_run(base), open_run(cand))
    assert _row(c, metric="goodput_bps")["cand_n"] == len(QUIET)
    (out,) = c.outcomes[c.outcomes["protocol"] == "mptcp"].to_dict("records")
    assert out["cand_n"] == len(QUIET) and out["cand_bad"] == 0
    capsys.readouterr()
    assert main(["gate", str(base), str(cand)]) == 0
    assert "gate passed" in capsys.readouterr().out


def _history(tmp_path: Path, runs: int = 8) -> Path:
    dirs = [_run(tmp_path / "runs", "h", 2.7 * (1 + 0.003 * (i % 3)), QUIET, i=i)
            for i in range(runs)]
    store = tmp_path / "store"
    assert main(["history", "add", *map(str, dirs), "--store", str(store)]) == 0
    return store


def _hgate(store: Path, cand: Path, capsys) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["gate", "--history", str(store), str(cand), "--json",
               "--max-regression", *GATE_OWN])
    return rc, json.loads(capsys.readouterr().out)


def _judged(doc: dict, metric="cpu_own_s_per_gb", protocol="mptcp") -> dict:
    (j,) = [j for j in doc["judgements"] if j["metric"] == metric and j["protocol"] == protocol]
    return j


def test_the_history_gate_fails_a_resolved_rise_and_not_one_under_the_floor(tmp_path, capsys):
    store = _history(tmp_path)
    quiet = _run(tmp_path / "cand", "c", 2.7 * 1.25, QUIET, i=40)
    rc, doc = _hgate(store, quiet, capsys)
    assert rc == 1 and _judged(doc)["verdict"] == "regressed", doc["lines"]
    busy = _run(tmp_path / "cand", "c", 2.7 * 1.25, BUSY, i=41)
    rc, doc = _hgate(store, busy, capsys)
    j = _judged(doc)
    assert rc == 0 and j["verdict"] == "unresolved" and j["resolves"] > 0.68, doc["lines"]
    assert any("below what this machine resolves" in ln for ln in doc["lines"])


def test_the_history_gate_leaves_disturbed_trials_out(tmp_path, capsys):
    store = _history(tmp_path)
    cand = _run(tmp_path / "cand", "c", 2.7, QUIET, i=42, extra=[("mptcp", "disturbed", 9.3e6)] * 3)
    rc, doc = _hgate(store, cand, capsys)
    assert rc == 0, doc["lines"]
    (out,) = [o for o in doc["outcomes"] if o["protocol"] == "mptcp"]
    assert out["cand_n"] == len(QUIET) and out["cand_bad"] == 0
    assert np.isclose(_judged(doc, "goodput_bps")["cand"], 93e6)


def test_captured_runs_leave_the_disturbed_trials_out(data_dir):
    """Two real default-suite runs of issue 24's goal runs (trimmed to their
    columns): a quiet one, and one beside an injected 5 % load measured with
    the tick-based machine figure, in which every aggregate-2x trial and 5
    of the 6 single-link MPTCP trials were disturbed."""
    quiet = open_run(data_dir / "runs/goal-quiet")
    loaded = open_run(data_dir / "runs/goal-inject5-ticks")
    c = compare.compare(quiet, loaded)
    assert "aggregate-2x" not in set(c.rows.loc[c.rows["cand_n"] > 0, "scenario"])
    single = c.rows[(c.rows["scenario"] == "single-link") & (c.rows["protocol"] == "mptcp")
                    & (c.rows["metric"] == "goodput_bps")].iloc[0]
    assert (single["base_n"], single["cand_n"], single["verdict"]) == (6, 1, "insufficient")
    out = c.outcomes.set_index(["scenario", "protocol"])
    assert (out.loc[("single-link", "mptcp"), "cand_n"], out.loc[("single-link", "mptcp"), "cand_bad"]) == (1, 0)
    agg = c.outcomes[c.outcomes["scenario"] == "aggregate-2x"]
    assert agg.empty or (agg["cand_n"] == 0).all()
    result = gate.evaluate(c, gate.parse_thresholds([]))
    assert not [r for r in result.regressions if r["scenario"] == "aggregate-2x"]
