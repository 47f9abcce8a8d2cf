"""Synthetic runs with known answers, for unit tests and benchmarks."""
from __future__ import annotations

import numpy as np

from bench import results_format
from bench.analysis.summary import RunData


def trial(scenario: str, protocol: str, repeat: int, **fields) -> dict:
    rec = {k: None for k in (*results_format.CORE_COLUMNS, *results_format.EXTRA_COLUMNS)}
    rec.update(run_id="synthetic", scenario=scenario, protocol=protocol, driver="native",
               repeat=repeat, seq=2 * repeat + (protocol == "mptcp"), status="ok", reason=None,
               cpu_system_s_per_gb=1.0, cpu_own_s_per_gb=1.0, expected_goodput_bps=100e6,
               subflows=1)
    rec.update(fields)
    return rec


def paired(scenario: str, tcp, mptcp, metric: str = "goodput_bps", statuses=None,
           **fields) -> list[dict]:
    """TCP and MPTCP trials interleaved per repeat, `metric` from the lists;
    statuses {(protocol, repeat): status} marks trials not ok."""
    out = []
    for i, (a, b) in enumerate(zip(tcp, mptcp)):
        for proto, value in (("tcp", a), ("mptcp", b)):
            status = (statuses or {}).get((proto, i), "ok")
            out.append(trial(scenario, proto, i, status=status,
                             reason=None if status == "ok" else f"synthetic {status}",
                             **{**fields, metric: float(value)}))
    return out


def noisy(rng: np.random.Generator, center: float, rel_sd: float, n: int) -> np.ndarray:
    return center * rng.lognormal(0, rel_sd, n)


def scenario_entry(name: str, links: int = 2, rate_mbit: float = 50.0) -> dict:
    definition = {"name": name, "description": "synthetic", "family": 4,
                  "links": [{"rate_mbit": rate_mbit}] * links, "cpu": {"placement": "split"},
                  "protocols": ["tcp", "mptcp"], "workload": {"kind": "bulk"}}
    return {"definition": definition, "expected_subflows": links, "state": "complete",
            "readback": {"sysctls": {"client": {"net.mptcp.enabled": "1"}}}}


def doc(trials: list[dict], run_id: str = "synthetic", repeat: int = 6, duration_s: float = 3.0,
        rate_mbit: float = 50.0, kernel: str = "6.18.44") -> dict:
    names = list(dict.fromkeys(t["scenario"] for t in trials))
    for t in trials:
        t["run_id"] = run_id
    meta = {"kernel": {"release": kernel, "machine": "x86_64"},
            "cpu": {"model": "synthetic", "count": 2},
            "suite": {"name": "synthetic", "description": "synthetic", "repeat": repeat,
                      "warmup": 1, "duration_s": duration_s, "driver": "native",
                      "scenarios": names},
            "git": {"revision": "0" * 40, "dirty": False}, "started": "2026-11-28T00:00:00+0000"}
    return results_format.results_document(run_id, meta, {n: scenario_entry(n, rate_mbit=rate_mbit)
                                                  for n in names}, trials, "complete")


def run(trials: list[dict], **kw) -> RunData:
    return RunData(doc(trials, **kw))


def big_doc(n_trials: int, seed: int, scenarios: int = 50, shift: float = 1.0) -> dict:
    """A run of n_trials trials over `scenarios` scenarios, TCP and MPTCP
    paired: every scalar column filled, a 20-interval goodput series each."""
    rng = np.random.default_rng(seed)
    per = n_trials // (2 * scenarios)
    trials = []
    for s in range(scenarios):
        name = f"s{s:02d}"
        for r in range(per):
            for proto, rate in (("tcp", 47.8e6), ("mptcp", 93e6)):
                g = float(rate * shift * rng.lognormal(0, 0.01))
                trials.append(trial(name, proto, r, goodput_bps=g, bytes=int(g * 3 / 8),
                                    duration_s=3.0, cpu_system_s_per_gb=float(rng.lognormal(4, .4)),
                                    cpu_own_s_per_gb=float(rng.lognormal(1, .1)),
                                    cpu_sender_s_per_gb=0.3, cpu_receiver_s_per_gb=0.2,
                                    retransmits=int(rng.integers(0, 500)), subflows=2,
                                    interval_s=0.15,
                                    intervals_bytes=rng.integers(800_000, 900_000, 20).tolist()))
    return doc(trials, run_id=f"big{seed}", repeat=per)
