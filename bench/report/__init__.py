"""report.md, report.html and plots/ of a run directory: the public API.

    from bench import analysis, report
    run = analysis.open_run("reports/latest")
    report.write(run)                       # report.md, report.html, plots/
    report.Report(run).headlines()          # the answer, one line per scenario
    report.bars(analysis.describe(run.trials), ("goodput_bps",))   # PNG bytes
"""
from bench import lazy

# Resolved on first use (PEP 562): `bench run --help` must not import pandas.
_EXPORTS = {"Report": "build", "write": "build", "write_doc": "build", "markdown": "build",
            "bars": "plots", "timeseries": "plots", "latency_cdf": "plots"}
__getattr__, __dir__, __all__ = lazy.exports(__name__, _EXPORTS)
