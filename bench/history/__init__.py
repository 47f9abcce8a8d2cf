"""Runs over time: the history store, series and their change points, the
trend dashboard and the history-aware gate (docs/history.md).

    from bench import history
    with history.open_store("reports/history") as store:
        store.runs(), store.samples()       # DataFrames: one row per run / per trial value
        for t in history.trends(store):     # every series with its change points
            print("\\n".join(t.lines()))
        history.evaluate_gate(store, analysis.open_run("reports/latest")).status   # 0 / 1 / 2
"""
from bench import lazy

_EXPORTS = {"Store": "store", "DEFAULT_STORE": "store:DEFAULT", "STORE_FILE": "store:FILE",
            "open_store": "store:Store",
            "trends": "trend", "Trend": "trend", "write_dashboard": "dashboard:write",
            "evaluate_gate": "gate:evaluate", "detect_change_points": "changepoints:detect"}
__getattr__, __dir__, __all__ = lazy.exports(__name__, _EXPORTS)
