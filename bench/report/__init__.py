"""report.md, report.html and plots/ of a run directory: the public API.

    from bench import analysis, report
    run = analysis.open_run("reports/latest")
    report.write(run)                       # report.md, report.html, plots/
    report.Report(run).headlines()          # the answer, one line per scenario
    report.bars(analysis.describe(run.trials), ("goodput_bps",))   # PNG bytes
"""
import importlib

# Resolved on first use (PEP 562): `bench run --help` must not import pandas.
_EXPORTS = {"Report": "build", "write": "build", "write_doc": "build", "markdown": "build",
            "bars": "plots", "timeseries": "plots", "latency_cdf": "plots"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bench.report.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
