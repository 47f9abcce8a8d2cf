"""The public analysis API: what notebooks and users import.

    from bench import analysis
    run = analysis.open_run("reports/latest")
    analysis.describe(run.trials)           # median, IQR, CIs per scenario x protocol
    c = analysis.compare_runs(analysis.open_run(base), run)
    analysis.evaluate_gate(c, analysis.default_thresholds()).status   # 0 / 1 / 2

The modules behind it (rundata, summary, statistics, metrics, compare,
comparability, gate, export) may move; these names stay.
"""
from bench import lazy

# Names differ from the submodules' (compare, gate, export) so as not to
# shadow them.  Resolved on first use (PEP 562): importing a light submodule
# such as bench.analysis.metrics does not import pandas.
_EXPORTS = {
    "open_run": "rundata", "load": "rundata", "RunData": "rundata", "frame": "rundata",
    "samples": "rundata", "intervals_long": "rundata", "latency_long": "rundata",
    "KEYS": "rundata", "RATIO": "rundata", "METRICS": "metrics",
    "describe": "summary", "status_counts": "summary", "COUNTED": "summary",
    "HIGH_SPREAD": "summary",
    "compare_runs": "compare:compare", "compare_lines": "compare:lines", "as_json": "compare",
    "Comparison": "compare", "evaluate_gate": "gate:evaluate", "GateResult": "gate",
    "default_thresholds": "gate", "parse_thresholds": "gate",
    "export_run": "export:write", "to_pyperf": "export",
}
__getattr__, __dir__, __all__ = lazy.exports(__name__, _EXPORTS)
